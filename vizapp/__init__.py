"""vizapp: a CNN architecture lab (Streamlit app, CLI and Python API)."""

__version__ = "0.1.0"


def analyze(*args, **kwargs):
    """``vizapp.analyze(model, input_shape=(C, H, W), batch=1) -> Analysis``; see
    :func:`vizapp.analysis.analyze`."""
    from .analysis import analyze as _analyze
    return _analyze(*args, **kwargs)


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
