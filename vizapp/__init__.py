"""vizapp: a CNN architecture lab (Streamlit app, CLI and Python API)."""

import sys

__version__ = "0.1.0"


def analyze(*args, **kwargs):
    """``vizapp.analyze(model, input_shape=(C, H, W), batch=1) -> Analysis``; see
    :func:`vizapp.analysis.analyze`."""
    from .analysis import analyze as _analyze
    return _analyze(*args, **kwargs)


def analyze_file(path, **kwargs):
    """``vizapp.analyze_file("model.onnx" | "model.pt2") -> Analysis`` for the input the file
    was exported with; nothing in the file runs. See :func:`vizapp.modelfile.analyze_file`."""
    from .modelfile import analyze_file as _analyze_file
    return _analyze_file(path, **kwargs)


def show(model, input_shape=(3, 224, 224), batch: int = 1, *, depth: int = 1,
         path=None, open_browser: bool = True):
    """Open ``model`` the way the app shows it, from a script: the analysis runs here, in
    your process, and becomes one self-contained HTML page (zoomable graph with
    click-for-details, the Shapes table with its arithmetic, totals) written to ``path`` (a
    temporary file by default) and opened in your browser. Returns the file's path.

    Why not a server: nothing has to be pickled or sent anywhere, it works offline and from
    any script or notebook, and the page stays useful after the script ends (in Jupyter, an
    ``Analysis`` also displays itself inline). For every page of the app on your own model,
    use ``vizapp serve path/to/file.py:factory``."""
    import tempfile
    import webbrowser
    from pathlib import Path

    from .render.report import report_html

    a = analyze(model, input_shape, batch)
    if path is None:
        fd, name = tempfile.mkstemp(prefix="vizapp-", suffix=".html")
        import os

        os.close(fd)
        path = name
    out = Path(path)
    out.write_text(report_html(a, depth=depth), encoding="utf-8")
    if open_browser:
        webbrowser.open(out.resolve().as_uri())
    return out


def notebook_html(analysis) -> str:
    """An :class:`~vizapp.analysis.Analysis` in a notebook: the zoomable graph and the Shapes
    table, self-contained (:func:`vizapp.render.report.fragment`)."""
    from .render.report import fragment

    return fragment(analysis)


def register_notebook_display(shell=None) -> bool:
    """In Jupyter (any IPython kernel) an ``Analysis`` displays itself with
    :func:`notebook_html`. Registered with IPython's HTML formatter *by name*, so neither the
    analysis nor the renderers are imported until an analysis is shown, and the records never
    import the renderers. Done when vizapp is imported; returns whether a shell took it."""
    if shell is None:
        ipython = sys.modules.get("IPython")  # never imported here: only if already running
        get_shell = getattr(ipython, "get_ipython", None)
        shell = get_shell() if get_shell is not None else None
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None) or {}
    html = formatters.get("text/html")
    if html is None:  # no shell, or one that shows no HTML
        return False
    html.for_type_by_name("vizapp.analysis.records", "Analysis", notebook_html)
    return True


register_notebook_display()
