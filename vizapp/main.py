"""Streamlit entry point: ``streamlit run vizapp/main.py``.

Thin on purpose: page config, the sidebar (which yields the current valid ModelSpec), the URL
kept in step with it, and one ``st.Page`` per page (bodies in ``components/``).
"""

import streamlit as st

from components import class_panel, frame, header, lang, sidebar, state
from components.pages import PAGES
from vizapp import serve
from vizapp.i18n import _, tr


def main() -> None:
    lang.apply()  # this session's language, before any text is drawn
    st.set_page_config(page_title=_("vizapp — CNN architecture lab"), page_icon="🧱",
                       layout="wide", initial_sidebar_state="expanded")
    unsafe = serve.enforce()  # safe options whatever the working directory the server started in
    if unsafe:
        st.error(serve.refusal(unsafe), icon=":material/gpp_bad:")
        st.stop()
    state.warm_imports()
    pages = [st.Page(f"app_pages/{p.key}.py", title=tr(p.title), icon=p.icon, url_path=p.key,
                     default=(i == 0)) for i, p in enumerate(PAGES)]
    page = st.navigation(pages, position="top")
    lang.switch()
    class_panel.open_link()  # ?class=CODE alone: the teacher's model, in exercise mode
    head, code_place = st.container(), st.container()  # the header strip, then your code
    spec = sidebar.render(code_place)
    state.sync_query_params(spec)
    this = frame.begin(spec)  # the one fetch of this rerun's analysis
    sidebar.finish(this)
    with head:
        header.render(this, page.url_path)
    page.run()


# the analysis worker processes (spawned) re-import this file as "__mp_main__": draw nothing there
if __name__ != "__mp_main__":
    main()
