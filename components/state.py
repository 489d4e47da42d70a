"""The app's state: URL query parameters ⇄ :class:`~vizapp.zoo.ModelSpec`, the cached analysis,
and small helpers every page may use.

The URL holds the whole configuration, and only what differs from the preset::

    ?model=densenet&growth_rate=16          DenseNet with growth 16
    ?model=alexnet&input=1,28,28            AlexNet on a 28×28 image (too small: explained)
    ?model=torchvision:densenet121&depth=99 torchvision's DenseNet-121, graph fully expanded

``model`` is a preset, a family or ``torchvision:NAME``; every knob of the family is a
parameter under its own name; ``input=C,H,W`` and ``batch=N`` set the input tensor; everything
else (``depth``, ``vs`` …) is view state that pages read with :func:`view_param`.

The pure half (:func:`spec_from_query`, :func:`query_from_spec`) has no Streamlit in it and is
unit-tested; the rest talks to ``st.session_state`` / ``st.query_params``.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

import streamlit as st

from vizapp.i18n import _, localize
from vizapp.runtime.cache import SharedCache
from vizapp.zoo import ModelSpec, codec, parse_value
from vizapp.zoo.codec import SPEC_PARAMS, all_knob_names, base_spec, default_model, model_name

SPEC_KEY = "vz.spec"  # last good ModelSpec of this session
URL_MESSAGES_KEY = "vz.url_messages"  # what was wrong with the URL we started from
INITIAL_QUERY_KEY = "vz.initial_query"  # the link this session was opened with
# view parameters pages may use; unknown parameters outside this set are reported
VIEW_PARAMS = {"depth", "vs", "node", "block", "layer", "style", "expand", "collapse", "tab",
               "embed", "embed_options", "form", "fold", "cdepth", "bn_layer", "fm_layer", "at",
               "src",
               "sched", "epochs", "lr", "present", "exercise", "dir", "class", "teacher",
               "lang"}  # lang: the interface language (components/lang.py)
# a page's own namespace of parameters (a model knob never has a dot in its name): the LR
# schedules page's parameters, Compare's B side, the Train page's settings (read and written
# by vizapp.labs.train.link: t.epochs, t.s.step_size …)
VIEW_PREFIXES = ("s.", "vs.", "t.")


def _not_the_spec(key: str) -> bool:
    """The link's parameters that are not the model's: view state, a page's namespace (any
    dotted key, :data:`VIEW_PREFIXES` among them) and Compare's B side."""
    return key in VIEW_PARAMS or "." in key or key.startswith("vs_")


def spec_from_query(params: Mapping[str, Any]) -> tuple[ModelSpec, list[str]]:
    """The link's parameters → a valid spec and messages about what was ignored (never raises;
    :func:`vizapp.zoo.codec.from_params`)."""
    return codec.from_params(params, _not_the_spec)


query_from_spec = codec.to_params  # the minimal parameters that reproduce a spec


def query_string(spec: ModelSpec, **view: Any) -> str:
    """``?model=…&knob=…`` for links (view parameters appended when not None)."""
    from urllib.parse import urlencode
    q = query_from_spec(spec)
    q.update({k: str(v) for k, v in view.items() if v is not None})
    return "?" + urlencode(q, safe=",:")


# ------------------------------------------------------------------------------- Streamlit side
def current_spec() -> ModelSpec:
    """The spec of this session (the last valid one the sidebar produced)."""
    if SPEC_KEY not in st.session_state:
        query = st.query_params.to_dict()
        spec, msgs = spec_from_query(query)
        st.session_state[SPEC_KEY] = spec
        st.session_state[URL_MESSAGES_KEY] = msgs
        st.session_state[INITIAL_QUERY_KEY] = query
    return st.session_state[SPEC_KEY]


def sync_query_params(spec: ModelSpec) -> None:
    """Write the spec's parameters to the URL, remove stale spec parameters, keep view ones."""
    want = query_from_spec(spec)
    owned = set(SPEC_PARAMS) | all_knob_names()
    qp = st.query_params
    for key in list(qp.keys()):
        if key in owned and key not in want:
            del qp[key]
    for key, value in want.items():
        if qp.get(key) != value:
            qp[key] = value


def _cast(raw: Any, default: Any, cast: Any) -> Any:
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except (TypeError, ValueError):
        return default


def view_param(name: str, default: Any = None, cast: Any = str) -> Any:
    """A view parameter from the URL (``depth``, ``vs`` …), cast, or ``default``."""
    return _cast(st.query_params.get(name), default, cast)


def initial_param(name: str, default: Any = None, cast: Any = str) -> Any:
    """A parameter of the link this session was opened with (view state other pages may have
    rewritten since, e.g. the Graph page's ``depth``)."""
    return _cast((st.session_state.get(INITIAL_QUERY_KEY) or {}).get(name), default, cast)


def bind_widget(name: str, key: str, default: Any, cast: Any = str,
                choices: Any = None) -> None:
    """Before a widget keyed ``key`` is drawn: give it the link's ``name`` (the current URL,
    else the link the session opened with) the first time, else ``default``. A value that
    cannot be cast or is not among ``choices`` falls back to ``default``. Pair with
    :func:`set_view_param` after the widget, so the URL follows the widget."""
    if key in st.session_state:
        return
    value = view_param(name, None, cast)
    if value is None:
        value = initial_param(name, None, cast)
    if value is None or not (choices is None or (
            choices(value) if callable(choices) else value in choices)):
        value = default
    st.session_state[key] = value


def set_view_param(name: str, value: Any, default: Any = None) -> None:
    """Put a view parameter in the URL (removed when it equals ``default``)."""
    if value is None or value == default:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != str(value):
        st.query_params[name] = str(value)


# ------------------------------------------------------------------------------- analysis cache
def _spec_key(spec: ModelSpec) -> str:
    return repr(spec)


ANALYSES = SharedCache("analyses", max_bytes=256 << 20, max_entries=256)


def _analyse(spec: ModelSpec):
    from vizapp.analysis import analyze_spec
    from vizapp.analysis.consistency import check
    from vizapp.runtime import workers
    return check(workers.call(analyze_spec, spec), (spec.batch, *spec.input_shape))


def cached_analysis(spec: ModelSpec):
    """``analyze_spec(spec)``, computed once per configuration in a worker process (the app's
    own process never traces: see :mod:`vizapp.runtime.workers`) and shared by every session
    and every rerun from a cache bounded in bytes (the record is frozen: nothing downstream
    changes it, so no copy is made). A result that fails its consistency checks raises
    :class:`InconsistentAnalysis` instead, so it is never stored nor served to the next
    visitor."""
    key = _spec_key(spec)
    with st.spinner(_("Tracing the model and working out every shape…"), show_time=True):
        return ANALYSES.get(key, lambda: _analyse(spec))


cached_analysis.clear = ANALYSES.clear  # type: ignore[attr-defined]


@st.cache_resource
def warm_imports() -> threading.Thread:
    """Once per server process, in the background: import torchvision (the first
    ``torchvision:NAME`` model and the sidebar's list of them would otherwise wait ~1.5 s for
    it) and start the analysis workers (each imports torch: seconds the first visitor would
    otherwise wait)."""
    def work() -> None:
        import gc

        import torchvision  # noqa: F401

        from vizapp.runtime import workers

        workers.warm()
        # the libraries' objects live as long as the server: keep them out of every later
        # collection (a full one scans ~385,000 objects, 0.2 s, while holding the GIL)
        gc.collect()
        gc.freeze()

    t = threading.Thread(target=work, name="vizapp-warm-imports", daemon=True)
    t.start()
    return t


ANALYSIS_ATTEMPTS = 2  # an inconsistent result is computed again once before giving up


def get_analysis(spec: ModelSpec):
    """The analysis of ``spec`` or None after showing why it could not be made."""
    from vizapp.analysis.consistency import InconsistentAnalysis

    for attempt in range(ANALYSIS_ATTEMPTS):
        try:
            return localize(cached_analysis(spec))  # shared English record → this session's language
        except InconsistentAnalysis as exc:
            if attempt + 1 < ANALYSIS_ATTEMPTS:
                continue
            from .text import show_error
            show_error(_("The analysis of {label} came out inconsistent twice and was "
                         "not kept ({problems}). Rerun the page to try again.").format(
                             label=spec.label, problems='; '.join(exc.problems)))
        except Exception as exc:  # noqa: BLE001 - shown, never a traceback
            from .text import show_error
            show_error(_("Could not analyse {label}: {error}").format(label=spec.label, error=exc))
    return None


def real_model(spec: ModelSpec, batch: int = 1):
    """The spec's model with seed-0 real weights on the CPU, shared by every session (read
    only: labs deep-copy it) from the runtime's cache, bounded in bytes. Checked on meta first:
    raises :class:`vizapp.runtime.BuildRefused` (cause, fix, numbers) when the weights, a deep
    copy and one pass of ``batch`` would exceed the budget — before any weight is allocated."""
    import torch

    from vizapp.runtime import cached_model, check_build

    check_build(spec, batch, weight_copies=2)
    return cached_model(spec, torch.device("cpu"))


def typed(spec: ModelSpec, name: str, text: str) -> Any:
    """Parse a widget string for knob ``name`` of ``spec``'s config (ConfigError on failure)."""
    return parse_value(type(spec.config).knob_info(name), text)
