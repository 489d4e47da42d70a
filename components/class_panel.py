"""The class exercise on the Shapes page (exercise mode): a teacher starts one and gets two links
(one for the class, one for their own view); a student who opens the class link answers
anonymously; the teacher's view shows, per layer, who answered, who was right at once and the
common wrong answers with the slip behind them. Storage: :mod:`vizapp.classroom`."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from vizapp import classroom
from vizapp.fmt import shape_text
from vizapp.i18n import _, tr
from vizapp.zoo import ModelSpec, codec

from . import exercise

CODE_KEY = "vz.class.code"  # the class this session takes part in
STUDENT_KEY = "vz.class.student"  # this session's anonymous id
TEACHER_KEY = "vz.class.teacher"  # the teacher's token, in the teacher's session only
ERROR_KEY = "vz.class.error"


@st.cache_resource
def store() -> classroom.Store:
    """One store per server (its file is under the data directory)."""
    return classroom.Store()


def open_link() -> None:
    """Before the sidebar reads the link: ``?class=7QK2`` alone opens the model the teacher
    chose, in exercise mode, on the Shapes page's terms (a bad code is said there)."""
    code = st.query_params.get("class")
    if not code or "model" in st.query_params:
        return
    try:
        model = store().model(classroom.normalize_code(code))
    except classroom.ClassroomError:
        return
    for k, v in {**model, "exercise": "1"}.items():
        st.query_params[k] = v


def _join() -> str | None:
    """The class of this session: from the link (checked once), else None."""
    ss = st.session_state
    code = st.query_params.get("class")
    if code and ss.get(CODE_KEY) != code:
        try:
            ss[CODE_KEY] = classroom.normalize_code(code)
            store().model(ss[CODE_KEY])  # it exists
            ss.pop(ERROR_KEY, None)
        except classroom.ClassroomError as exc:
            ss.pop(CODE_KEY, None)
            ss[ERROR_KEY] = exc.message
    token = st.query_params.get("teacher")
    if token and ss.get(CODE_KEY) and store().is_teacher(ss[CODE_KEY], token):
        ss[TEACHER_KEY] = ss[CODE_KEY]
    ss.setdefault(STUDENT_KEY, uuid.uuid4().hex)
    return ss.get(CODE_KEY)


def record_try(row: str, answer: Any, right: bool, tries: int) -> None:
    """One answer of this session, when it takes part in a class (from the exercise's Check)."""
    code = st.session_state.get(CODE_KEY)
    if not code:
        return
    try:
        store().record(code, st.session_state.get(STUDENT_KEY, "?"), row, answer, right, tries)
    except classroom.ClassroomError as exc:
        st.session_state[ERROR_KEY] = exc.message


if record_try not in exercise.ON_TRY:  # once per process, whatever reruns import this
    exercise.ON_TRY.append(record_try)


def _start(spec: ModelSpec) -> None:
    code, token = store().create(codec.to_params(spec))
    st.session_state[CODE_KEY] = code
    st.session_state[TEACHER_KEY] = code
    st.query_params["class"] = code
    st.query_params["teacher"] = token


def render(spec: ModelSpec, a: Any, rows: list) -> None:
    """Under the exercise's question: the class this session is in, or a way to start one."""
    code = _join()
    error = st.session_state.get(ERROR_KEY)
    if error:
        st.text(tr(error))
    if not code:
        st.button(_("Start a class exercise"), key="vz.class.start", on_click=_start,
                  args=(spec,), icon=":material/groups:",
                  help=_("A short code in a link: each student's answers are recorded "
                         "anonymously and you see the class's results per layer."))
        return
    if st.session_state.get(TEACHER_KEY) == code:
        _teacher(code, spec, a, rows)
    else:
        st.caption(_("Class exercise {code}: your answers are recorded anonymously for your "
                     "teacher.").format(code=code))


def _teacher(code: str, spec: ModelSpec, a: Any, rows: list) -> None:
    q = {**codec.to_params(spec), "exercise": "1", "class": code}
    st.markdown(_("**Class exercise {code}.** Students open this link:").format(code=code))
    st.code(f"/shapes?{urlencode(q, safe=',:')}", language=None)
    st.caption(_("Your own view is this page's current link (it holds your teacher key: keep "
                 "it to yourself)."))
    st.button(_("Refresh the results"), key="vz.class.refresh", icon=":material/refresh:")
    results = store().results(code)
    if not results:
        st.caption(_("No answers yet."))
        return
    by_name = {r.name: r for r in rows}
    table = []
    for r in results:
        row = by_name.get(r.row)
        table.append({_("layer"): r.row, _("answered"): r.answered,
                      _("right at the first try"): r.first_try,
                      _("most common wrong answers"): "; ".join(
                          _wrong_text(w, r, row, a) for w in r.wrong) or "—"})
    st.dataframe(table, hide_index=True, width="stretch", key="vz.class.results")


def _wrong_text(w: classroom.WrongAnswer, r: classroom.RowResult, row: Any, a: Any) -> str:
    """"14× 6×24×24 (they forgot padding=2)" — the slip when one explains the answer."""
    why = ""
    got = exercise.parse_shape(w.answer)
    node = exercise.node_of(a, r.row) if row is not None else None
    if got is not None and node is not None and row.input_shapes:
        why = classroom.slip(node.module_type, node.attrs, tuple(row.input_shapes[0][1:]), got)
    shown = shape_text(got, batch=True) if got is not None else w.answer
    return f"{w.count}× {shown}" + (f" ({tr(why)})" if why else "")
