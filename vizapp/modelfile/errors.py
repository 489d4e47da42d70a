"""The one error of :mod:`vizapp.modelfile`: a file it cannot read, said in words."""

from __future__ import annotations

from vizapp.analysis.records import AnalysisError


class FileError(AnalysisError):
    """A model file vizapp refuses or cannot read (the text names the cause and the fix)."""
