"""Predict, then reveal: an exercise mode on the Shapes page (a toggle, and ``exercise=1`` in the
URL, so a teacher's link opens the exercise).

The output shapes are hidden; for the next unsolved row the student types C×H×W (or the one
width of a flat tensor), is told right or wrong — and which dimension is off — and, once right
(or after "Show me"), sees the row's worked arithmetic. A score per network ("4/7 right, 3 on
the first try") is kept in the session, per model spec.

The pure half (:func:`parse_shape`, :func:`expected`, :func:`check`, :func:`score`) has no
Streamlit in it and is unit-tested in ``tests/test_exercise.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import streamlit as st

from vizapp.fmt import shape_text
from vizapp.i18n import N_, _, msg, tr

from . import state
from .text import md

KEY = "vz.exercise"  # on or off (the toggles on each page are f"{KEY}.{page}")
ANSWER_KEY = "vz.exercise.answer"  # the text box
SCORES_KEY = "vz.exercise.scores"  # {spec key: {row name: {"tries": n, "right": bool, ...}}}
LAST_KEY = "vz.exercise.last"  # the verdict to show after the last check
DIM_NAMES = ("C", "H", "W")
_SEP = re.compile(r"[×xX*,;\s]+")


# ------------------------------------------------------------------------------ pure functions
def parse_shape(text: Any) -> tuple[int, ...] | None:
    """``"6×28×28"``, ``"6x28x28"``, ``"6, 28, 28"``, ``"(6 28 28)"``, ``"120"`` → a tuple of
    positive ints; None for anything else (empty, words, zero, negative, more than 4 dims)."""
    body = str(text or "").strip().strip("()[]").strip()
    parts = [p for p in _SEP.split(body) if p]
    if not parts or len(parts) > 4 or not all(p.isdigit() for p in parts):
        return None
    dims = tuple(int(p) for p in parts)
    return dims if all(d > 0 for d in dims) else None


def expected(output_shape: Sequence[int] | None) -> tuple[int, ...] | None:
    """What the student must type: the output shape without the batch dimension."""
    if not output_shape:
        return None
    dims = tuple(int(d) for d in output_shape)
    return dims if len(dims) == 1 else dims[1:]


@dataclass(frozen=True)
class Verdict:
    right: bool
    message: str


def _names(n: int) -> tuple[str, ...]:
    return DIM_NAMES[-n:] if n <= 3 else tuple(msg("dim {i}", i=i + 1) for i in range(n))


def check(answer: Any, output_shape: Sequence[int] | None) -> Verdict:
    """Compare the typed answer with the row's real output shape; say what is off."""
    want = expected(output_shape)
    got = parse_shape(answer)
    if want is None:
        return Verdict(False, msg("This row has no output shape to predict."))
    if got is None:
        return Verdict(False, msg("Type the shape as numbers, e.g. 6×28×28 (or 6x28x28, or 120 "
                                  "for a flat vector)."))
    if got == want:
        return Verdict(True, msg("Right: {shape}.", shape=shape_text(want, batch=True)))
    if len(got) != len(want):
        kind = msg("a flat vector of one number") if len(want) == 1 else \
            msg("{n} numbers ({names})", n=len(want), names="×".join(_names(len(want))))
        return Verdict(False, msg("Not quite: {shape} has {n} number(s); this layer outputs "
                                  "{kind}.", shape=shape_text(got, batch=True), n=len(got),
                                  kind=kind))
    off = [name for name, g, w in zip(_names(len(want)), got, want) if g != w]
    return Verdict(False, msg("Not quite: {shape} — check {dims}. Try again, or press “Show "
                              "me”.", shape=shape_text(got, batch=True), dims=", ".join(off)))


def score(results: dict[str, dict], row_names: Sequence[str]) -> tuple[int, int, int]:
    """(right, first-try right, total) over the given rows."""
    recs = [results.get(n) or {} for n in row_names]
    right = sum(1 for r in recs if r.get("right"))
    first = sum(1 for r in recs if r.get("right") and r.get("tries") == 1)
    return right, first, len(row_names)


def score_text(right: int, first: int, total: int) -> str:
    return _("{right}/{total} right ({first} on the first try)").format(
        right=right, total=total, first=first)


def record(results: dict[str, dict], name: str, verdict: Verdict | None) -> dict:
    """Note one try (``verdict``) or a reveal (``None``) of row ``name``; returns its record.
    A row once right or revealed stays so."""
    rec = results.setdefault(name, {"tries": 0, "right": False, "revealed": False})
    if rec["right"] or rec["revealed"]:
        return rec
    if verdict is None:
        rec["revealed"] = True
    else:
        rec["tries"] += 1
        rec["right"] = verdict.right
    return rec


def done(rec: dict | None) -> bool:
    return bool(rec and (rec.get("right") or rec.get("revealed")))


# ------------------------------------------------------------------------------------ Streamlit
def on() -> bool:
    """Whether exercise mode is on: the session's choice, else the link's ``exercise=1``."""
    state.bind_widget("exercise", KEY, False, lambda v: v in ("1", "true", "on"))
    return bool(st.session_state[KEY])


def _keep(wkey: str) -> None:
    st.session_state[KEY] = st.session_state[wkey]


def toggle(page: str = "shapes", where: Any = None) -> bool:
    """The switch on ``page``. Each page has its own widget (a widget's state does not survive
    a page switch); the choice itself lives in :data:`KEY`, which is not a widget's."""
    wkey = f"{KEY}.{page}"
    st.session_state[wkey] = on()
    value = (where or st).toggle(
        _("Exercise: predict the shapes"), key=wkey, on_change=_keep, args=(wkey,),
        help=_("Output shapes hidden: type C×H×W for each layer, then see the arithmetic. "
               "The link keeps it (exercise=1)."))
    state.set_view_param("exercise", "1" if value else None)
    return value


def _results(spec_key: str) -> dict[str, dict]:
    return st.session_state.setdefault(SCORES_KEY, {}).setdefault(spec_key, {})


# called with (row name, the answer typed, right?, tries so far) after every Check: the class
# exercise registers here (components/class_panel.py) to record its students' answers
ON_TRY: list[Callable[[str, str, bool, int], None]] = []


def _on_check(spec_key: str, name: str, output_shape: Any) -> None:
    answer = st.session_state.get(ANSWER_KEY, "")
    verdict = check(answer, output_shape)
    rec = record(_results(spec_key), name, verdict)
    got = parse_shape(answer)
    for hook in ON_TRY:
        hook(name, shape_text(got, batch=True) if got else str(answer), verdict.right,
             rec["tries"])
    st.session_state[LAST_KEY] = {"row": name, "right": verdict.right, "message": verdict.message}
    if verdict.right:
        st.session_state[ANSWER_KEY] = ""


def _on_reveal(spec_key: str, name: str, output_shape: Any) -> None:
    record(_results(spec_key), name, None)
    st.session_state[LAST_KEY] = {"row": name, "right": False, "message": msg(
        "The answer: {shape}.", shape=shape_text(expected(output_shape), batch=True))}
    st.session_state[ANSWER_KEY] = ""


def hidden(spec_key: str, name: str) -> bool:
    """Whether a row's output shape is still hidden."""
    return not done(_results(spec_key).get(name))


def _on_restart(spec_key: str) -> None:
    st.session_state.setdefault(SCORES_KEY, {})[spec_key] = {}
    st.session_state.pop(LAST_KEY, None)
    st.session_state[ANSWER_KEY] = ""


def _feedback(spec_key: str, rows_by_name: dict[str, Any]) -> None:
    last = st.session_state.get(LAST_KEY)
    if not last or last["row"] not in rows_by_name or last.get("count"):
        return
    r = rows_by_name[last["row"]]
    message = tr(last["message"])  # a lazy message: shown in the language of this run
    if last["right"]:
        st.success(message, icon=":material/check_circle:")
    elif hidden(spec_key, r.name):
        st.error(message, icon=":material/cancel:")
    else:
        st.info(message, icon=":material/visibility:")
    if not hidden(spec_key, r.name):
        st.markdown(md(_("**How {} gets there:**"), r.name))
        st.code(tr(r.explanation) or _("(no arithmetic recorded)"), language=None,
                wrap_lines=True)


def key_of(spec: Any) -> str:
    """The score is kept per model spec (preset, knobs and input)."""
    return repr(spec)


def mask(records: list[dict], rows: Sequence[Any], spec_key: str) -> list[dict]:
    """The table's records with what gives an unsolved row's answer away replaced by "?": its
    output shape, its MACs, and its parameters (a Linear's 48,120 tells the 400 features the
    Flatten before it outputs); when counts are predicted, only the count asked for."""
    mode = mode_now()
    out = []
    for rec, r in zip(records, rows):
        if mode != "shape":
            column = "params" if mode == "params" else "MACs"
            hide = hidden(f"{spec_key}:{mode}", r.name) and count_of(r, mode, 1) is not None
            rec = {**rec, "MACs": f"{rec['MACs']:,}", "params": f"{rec['params']:,}"}
            if hide:
                rec[column] = "?"
        elif hidden(spec_key, r.name):
            rec = {**rec, "output shape": "?", "MACs": "?", "params": "?"}
        else:  # one type per column: text
            rec = {**rec, "MACs": f"{rec['MACs']:,}", "params": f"{rec['params']:,}"}
        out.append(rec)
    return out


def node_of(a: Any, name: str) -> Any:
    """The one node a row or a clicked unit stands for (an op, or a leaf layer's block), or
    None for a block of several."""
    if name in a.order():  # an op of the model's own forward
        return a.node(name)
    b = a.block_index().get(name)
    if b is None or b.children or len(b.nodes) != 1:
        return None
    return a.node(b.nodes[0])


def layer_text(a: Any, name: str) -> str | None:
    """The row's layer as the student would write it (``nn.Conv2d(1, 6, kernel_size=5,
    padding=2)``): a question must show every setting its answer depends on."""
    from vizapp.render.calls import layer_call

    n = node_of(a, name)
    return None if n is None else layer_call(n.module_type, n.attrs)


MODE_KEY = "vz.exercise.mode"
MODES = {"shape": N_("output shape"), "params": N_("parameters"), "macs": N_("MACs per image")}


def mode_now() -> str:
    return st.session_state.get(MODE_KEY) or "shape"


def count_of(r: Any, mode: str, batch: int) -> int | None:
    """What a count question wants of a row: its parameters, or its MACs per image (None for
    a row without any: nothing to count)."""
    n = r.params if mode == "params" else r.macs // max(batch, 1)
    return n or None


def parse_count(text: Any) -> int | None:
    """``"48,120"``, ``"48 120"``, ``"48_120"`` → 48120; None for anything else."""
    body = re.sub(r"[\s,_']", "", str(text or ""))
    return int(body) if body.isdigit() and len(body) <= 18 else None


def _count_answer(a: Any, r: Any, mode: str) -> str:
    """The worked arithmetic of a count: ``5²·1·6 + 6 = 156``; the MACs part of the row's
    explanation."""
    n = node_of(a, r.name) if a is not None else None
    if mode == "params":
        return (n.param_explanation if n is not None else "") or str(r.explanation)
    text = str(n.explanation if n is not None else r.explanation)
    return text[text.index("MACs"):] if "MACs" in text else text


def _on_count(spec_key: str, name: str, want: int, mode: str) -> None:
    got = parse_count(st.session_state.get(ANSWER_KEY, ""))
    right = got == want
    record(_results(spec_key), name, Verdict(right, ""))
    what = tr(MODES[mode])
    text = (msg("Right: {n:,}.", n=want) if right else
            msg("Type a whole number, e.g. 1,234.") if got is None else
            msg("Not quite: {n:,} {what}. Try again, or press “Show me”.", n=got, what=what))
    st.session_state[LAST_KEY] = {"row": name, "right": right, "message": text, "count": True}
    if right:
        st.session_state[ANSWER_KEY] = ""


def _on_count_reveal(spec_key: str, name: str, want: int) -> None:
    record(_results(spec_key), name, None)
    st.session_state[LAST_KEY] = {"row": name, "right": False, "count": True,
                                  "message": msg("The answer: {n:,}.", n=want)}
    st.session_state[ANSWER_KEY] = ""


def _next_row(rows: Sequence[Any], results: dict, right: int, first: int,
              total: int) -> tuple[int, Any] | None:
    """(its number, the next unsolved row), or None after saying every row is done."""
    todo = [(i, r) for i, r in enumerate(rows) if not done(results.get(r.name))]
    if not todo:
        st.markdown(_("**All {total} layers done.** {score}.").format(
            total=total, score=score_text(right, first, total)))
        return None
    return todo[0]


def _count_panel(spec_key: str, rows: Sequence[Any], a: Any, mode: str) -> None:
    """Predict a layer's parameters or MACs (``5·5·1·6 + 6 = 156``), then see the working."""
    batch = a.input_shape[0] if a is not None else 1
    rows = [r for r in rows if count_of(r, mode, batch) is not None
            and (a is None or node_of(a, r.name) is not None)]
    key = f"{spec_key}:{mode}"
    results = _results(key)
    right, first, total = score(results, [r.name for r in rows])
    st.markdown(_("Score: {score}").format(score=score_text(right, first, total)))
    last = st.session_state.get(LAST_KEY)
    by_name = {r.name: r for r in rows}
    if last and last.get("count") and last["row"] in by_name:
        r = by_name[last["row"]]
        (st.success if last["right"] else st.error if hidden(key, r.name) else st.info)(
            tr(last["message"]))
        if not hidden(key, r.name):
            st.code(tr(_count_answer(a, r, mode)), language=None, wrap_lines=True)
    nxt = _next_row(rows, results, right, first, total)
    if nxt is None:
        return
    i, r = nxt
    st.markdown(md(_("**Layer {} of {}: {}** ({}) receives **{}** and outputs **{}**. How many "
                     "{}?"), i + 1, total, r.name, r.type,
                   " + ".join(shape_text(s) for s in r.input_shapes) or "—",
                   shape_text(r.output_shape), tr(MODES[mode])))
    call = layer_text(a, r.name) if a is not None else None
    if call:
        st.code(call, language="python")
    want = count_of(r, mode, batch)
    with st.form("vz.exercise.cform", border=False, enter_to_submit=True):
        st.text_input(tr(MODES[mode]), key=ANSWER_KEY, placeholder="1,234")
        b1, b2, _rest = st.columns([1, 1.4, 4])
        b1.form_submit_button(_("Check"), key="vz.exercise.ccheck", type="primary",
                              on_click=_on_count, args=(key, r.name, want, mode))
        b2.form_submit_button(_("Show me"), key="vz.exercise.creveal", on_click=_on_count_reveal,
                              args=(key, r.name, want))


def panel(spec_key: str, rows: Sequence[Any], a: Any = None) -> None:
    """The question for the next unsolved row, the verdict of the last answer and the score."""
    st.segmented_control(_("Predict"), list(MODES), key=MODE_KEY, default="shape",
                         format_func=lambda m: tr(MODES[m]))
    if mode_now() != "shape":
        with st.container(border=True, key="vz-exercise-count"):
            _count_panel(spec_key, rows, a, mode_now())
        return
    rows = [r for r in rows if expected(r.output_shape) is not None]
    results = _results(spec_key)
    right, first, total = score(results, [r.name for r in rows])
    with st.container(border=True, key="vz-exercise"):
        c1, c2 = st.columns([3, 1], vertical_alignment="center")
        c1.markdown(_("#### :material/school: Predict, then reveal — score: {score}").format(
            score=score_text(right, first, total)))
        c2.button(_("Start over"), key="vz.exercise.restart", on_click=_on_restart,
                  args=(spec_key,), icon=":material/restart_alt:")
        _feedback(spec_key, {r.name: r for r in rows})
        nxt = _next_row(rows, results, right, first, total)
        if nxt is None:
            return
        i, r = nxt
        ins = " + ".join(shape_text(s) for s in r.input_shapes) or "—"
        st.markdown(md(_("**Layer {} of {}: {}** ({}) receives **{}**. What shape comes out?"),
                       i + 1, total, r.name, r.type, ins))
        call = layer_text(a, r.name) if a is not None else None
        if call:
            st.code(call, language="python")
        with st.form("vz.exercise.form", border=False, enter_to_submit=True):
            st.text_input(_("Output shape (C×H×W, or one number for a flat vector)"),
                          key=ANSWER_KEY, placeholder="C×H×W")
            b1, b2, _rest = st.columns([1, 1.4, 4])
            b1.form_submit_button(_("Check"), key="vz.exercise.check", type="primary",
                                  on_click=_on_check, args=(spec_key, r.name, r.output_shape))
            b2.form_submit_button(_("Show me"), key="vz.exercise.reveal", on_click=_on_reveal,
                                  args=(spec_key, r.name, r.output_shape))


# ------------------------------------------------------------------------------- the Graph page
@dataclass(frozen=True)
class Question:
    """A clicked graph node or block, as the exercise asks about it."""

    name: str
    type: str
    input_shapes: tuple
    output_shape: Any
    explanation: str


def graph_question(analysis: Any, kind: str, key: str) -> Question | None:
    try:
        if kind == "node":
            n = analysis.node(key)
            return Question(n.module_path or n.id, n.label, n.input_shapes, n.output_shape,
                            n.explanation)
        if kind == "block":
            b = analysis.block(key)
            return Question(b.path or b.name, b.type, b.input_shapes, b.output_shape,
                            b.explanation)
    except KeyError:
        return None
    return None


def graph_panel(spec_key: str, analysis: Any, clicked_id: str | None) -> None:
    """Instead of the Details panel in exercise mode: predict the clicked unit's output."""
    from vizapp.render.dot import parse_id
    results = _results("graph:" + spec_key)
    right, first, total = score(results, list(results))
    st.markdown(_("**Predict, then reveal** — {score}").format(
        score=score_text(right, first, total)))
    parsed = parse_id(clicked_id)
    q = graph_question(analysis, *parsed) if parsed else None
    if q is None or expected(q.output_shape) is None:
        st.caption(_("Click a node or a block: predict its output shape, then see the "
                     "arithmetic."))
        return
    key = "graph:" + spec_key
    _feedback(key, {q.name: q})
    if not hidden(key, q.name):
        return
    ins = " + ".join(shape_text(s) for s in q.input_shapes) or "—"
    st.markdown(md(_("**{}** ({}) receives **{}**. What comes out?"), q.name, tr(q.type), ins))
    call = layer_text(analysis, q.name)
    if call:
        st.code(call, language="python")
    with st.form("vz.exercise.gform", border=False, enter_to_submit=True):
        st.text_input(_("Output shape (C×H×W)"), key=ANSWER_KEY, placeholder="C×H×W")
        b1, b2, _rest = st.columns([1, 1.4, 3])
        b1.form_submit_button(_("Check"), key="vz.exercise.gcheck", type="primary",
                              on_click=_on_check, args=(key, q.name, q.output_shape))
        b2.form_submit_button(_("Show me"), key="vz.exercise.greveal", on_click=_on_reveal,
                              args=(key, q.name, q.output_shape))
