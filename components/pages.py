"""The app's pages and the guard every page body runs inside.

Each page is a ``components.page_*`` module with ``render(frame)`` (the rerun's spec and
analysis, :mod:`components.frame`). If the Graph page's module
cannot load (its viewer needs Streamlit's components v2), a plain Graphviz chart of the same
DOT stands in; an exception in a page body becomes a short message instead of a traceback, and
the sidebar and the other pages keep working.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import streamlit as st

from . import frame, state
from .frame import Frame
from vizapp.i18n import N_, _, tr

from .text import code, md


@dataclass(frozen=True)
class PageInfo:
    key: str  # url path and file name under vizapp/app_pages/
    title: str
    icon: str
    module: str
    blurb: str


PAGES: tuple[PageInfo, ...] = (
    PageInfo("graph", N_("Graph"), ":material/account_tree:", "components.page_graph",
             N_("The block graph of the model, collapsible to any depth.")),
    PageInfo("shapes", N_("Shapes"), ":material/table_rows:", "components.page_shapes",
             N_("Per-layer output shapes, parameters, MACs, receptive fields and the arithmetic.")),
    PageInfo("compare", N_("Compare"), ":material/compare_arrows:", "components.page_compare",
             N_("Two configurations side by side, stage by stage.")),
    PageInfo("batchnorm", N_("BatchNorm"), ":material/equalizer:", "components.page_batchnorm",
             N_("Batch statistics, running averages, train vs eval.")),
    PageInfo("features", N_("Feature maps"), ":material/grid_on:", "components.page_features",
             N_("What a layer's channels look like for an input image.")),
    PageInfo("explain", N_("Inside a layer"), ":material/calculate:", "components.page_explain",
             N_("Click an output pixel of any layer: the numbers that made it.")),
    PageInfo("schedules", N_("LR schedules"), ":material/show_chart:", "components.page_schedules",
             N_("Learning-rate schedulers plotted epoch by epoch.")),
    PageInfo("train", N_("Train"), ":material/model_training:", "components.page_train",
             N_("Train the model live on small offline data: curves, BatchNorm, mistakes.")),
    PageInfo("run", N_("Run"), ":material/speed:", "components.page_run",
             N_("Real forward passes on the available device: latency, throughput, memory.")),
    PageInfo("code", N_("Code"), ":material/code:", "components.page_code",
             N_("Runnable PyTorch code of the current configuration.")),
)
BY_KEY = {p.key: p for p in PAGES}


def _import(name: str):
    return importlib.import_module(name)


# pages that build the model with real weights and run it: a model whose shapes fail cannot
RUNS_THE_MODEL = {"batchnorm", "features", "explain", "train", "run"}


def _cannot_run(page: PageInfo, frame: Frame) -> bool:
    """On a page that runs the model, say so (and stop) when its shapes fail."""
    if page.key not in RUNS_THE_MODEL:
        return False
    spec, a = frame.spec, frame.analysis
    if a is None or a.failure is None:
        return False
    f = a.failure
    st.header(tr(page.title))
    st.info(md(_("**Fix the model first.** {} cannot run: at {} ({}): {}. The *Shapes* page "
                 "shows where and why; this page works once the shapes do."), spec.label,
               code(f.module_path or f.node), f.op, f.message), icon=":material/build:")
    return True


def _file_model(page: PageInfo, this: Frame) -> bool:
    """A model file on a page that needs the model itself: vizapp's rebuilt layers run where
    every op has a rule; otherwise (and on Code: a file has no Python source) say why not."""
    from vizapp.modelfile import unknown_ops

    from .model_file import FAMILY

    spec, a = this.spec, this.analysis
    if spec.family != FAMILY or page.key not in RUNS_THE_MODEL | {"code"}:
        return False
    if page.key != "code" and (a is None or not unknown_ops(a)):
        return False
    name = getattr(spec.config, "file_name", "") or _("this file")
    st.header(tr(page.title))
    if page.key == "code":
        text = md(_("**{}** is a model file: it has no Python source to show. Its layers are on "
                    "the *Shapes* page, each with its arithmetic."), name)
    else:
        text = md(_("**{}** has ops vizapp has no rule for ({}), so vizapp cannot rebuild it as "
                    "layers that run, and this page is not available for it (the program in "
                    "the file itself is never run). Its *Graph*, *Shapes* and *Compare* pages "
                    "work."), name, ", ".join(unknown_ops(a)))
    st.info(text, icon=":material/description:")
    return True


def run(key: str) -> None:
    """Render page ``key`` for the current spec, never showing a traceback."""
    page = BY_KEY[key]
    this = frame.current()
    spec = this.spec
    if _file_model(page, this) or _cannot_run(page, this):
        return
    try:
        try:
            mod = _import(page.module)
        except Exception as exc:  # noqa: BLE001 - a page that cannot load must not break the app
            if key not in FALLBACKS:
                raise
            st.caption(_(":material/construction: The full {page} page is unavailable "
                         "({error}); showing a simple version.").format(
                             page=tr(page.title), error=type(exc).__name__))
            FALLBACKS[key](this)
            return
        mod.render(this)
    except Exception as exc:  # noqa: BLE001 - st.stop/st.rerun are BaseExceptions: pass through
        st.error(md(_("The {} page could not be shown for **{}**: {}: {}"), tr(page.title),
                    spec.label, type(exc).__name__, exc), icon=":material/error:")
        st.caption(_("The rest of the app keeps working; try another configuration or page."))


# ------------------------------------------------------------------------------- fallbacks
def _graph_fallback(this: Frame) -> None:
    """When the interactive viewer cannot load (e.g. a Streamlit without components v2): the
    same DOT, laid out in the browser by st.graphviz_chart."""
    st.header(_("Graph"))
    a = this.analysis
    if a is None:
        return
    depth = st.slider(_("Depth"), 1, max(a.max_depth, 1) or 1,
                      min(state.view_param("depth", 1, int), max(a.max_depth, 1)),
                      key="vz.graph.depth") if a.max_depth > 1 else 1
    state.set_view_param("depth", depth, default=1)
    from vizapp.render.dot import to_dot

    dot = to_dot(a, depth=depth)
    if a.failure is not None:
        from .page_shapes import show_failure
        show_failure(a)
    st.graphviz_chart(dot, width="stretch")


FALLBACKS = {"graph": _graph_fallback}
