"""vizapp: a CNN architecture lab (Streamlit app, CLI and Python API)."""

__version__ = "0.1.0"


def analyze(*args, **kwargs):
    """``vizapp.analyze(model, input_shape=(C, H, W), batch=1) -> Analysis``; see
    :func:`vizapp.analysis.analyze`."""
    from .analysis import analyze as _analyze
    return _analyze(*args, **kwargs)
