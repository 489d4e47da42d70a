"""Static analysis of a CNN: shapes, parameters, MACs, receptive fields, worked arithmetic.

``analyze(model, input_shape, batch)`` and ``analyze_spec(spec)`` return frozen
:class:`~vizapp.analysis.records.Analysis` records; nothing here imports Streamlit or runs
real arithmetic. The pipeline (one module per step) is described in :mod:`.core`.
"""

from .core import analyze, analyze_spec, analyze_traced, build_for_analysis, min_input_size, verify_with_meta
from .records import (Analysis, AnalysisError, Block, Failure, Node, ReceptiveField, Row,
                      Shortcut)

__all__ = ["analyze", "analyze_spec", "analyze_traced", "build_for_analysis", "min_input_size",
           "verify_with_meta", "Analysis", "AnalysisError", "Block", "Failure", "Node",
           "ReceptiveField", "Row", "Shortcut"]
