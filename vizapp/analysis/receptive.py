"""Step 3 of the pipeline: the receptive field of every 4-D output, per axis (H, W).

Each op's :class:`~.rules.RFStep` says how it transforms the field of its input:

* ``window`` (conv, pool, padding): ``size += (k−1)·jump``, ``jump *= s``,
  ``start += ((k−1)/2 − p)·jump`` — the standard recurrences;
* ``identity`` (BN, activations, elementwise ops): unchanged;
* ``merge`` (concatenation, addition): per axis, the union of the inputs' windows around
  output pixel 0 — an Inception block whose branches see 1×3 and 3×1 windows sees the
  largest extent of each axis, not the window of the branch with the largest area;
* ``flat`` (flatten, linear) ends it.
"""

from __future__ import annotations

from .records import ReceptiveField
from .rules import RFStep
from .shapes import Propagated, first_tensor
from .trace import Traced

_INPUT_RF = ReceptiveField((1, 1), (1, 1), (0.0, 0.0))


def merge(fields: list[ReceptiveField]) -> ReceptiveField:
    """Per axis, the smallest window covering every input's window of output pixel 0."""
    size, jump, start = [], [], []
    for a in (0, 1):
        lo = min(r.start[a] - (r.size[a] - 1) / 2 for r in fields)
        hi = max(r.start[a] + (r.size[a] - 1) / 2 for r in fields)
        size.append(int(round(hi - lo)) + 1)
        jump.append(max(r.jump[a] for r in fields))
        start.append((lo + hi) / 2)
    return ReceptiveField(tuple(size), tuple(jump), tuple(start))  # type: ignore[arg-type]


def apply(step: RFStep | None, ins: list[ReceptiveField | None]) -> ReceptiveField | None:
    """The field after one op, from the fields of its inputs (None: not defined)."""
    if step is None:
        return None
    known = [r for r in ins if r is not None]
    if not known or step.rule == "flat":
        return None
    if step.rule == "identity":
        return known[0]
    if step.rule == "merge":
        return merge(known)
    r = known[0]
    size = tuple(r.size[a] + (step.k[a] - 1) * r.jump[a] for a in (0, 1))
    jump = tuple(r.jump[a] * step.s[a] for a in (0, 1))
    start = tuple(r.start[a] + ((step.k[a] - 1) / 2 - step.p[a]) * r.jump[a] for a in (0, 1))
    return ReceptiveField(size, jump, start)  # type: ignore[arg-type]


TRANSPOSED_NOTE = ("receptive field not computed after a transposed convolution or unpooling: "
                   "its output pixels see different numbers of input pixels")


def receptive_fields(traced: Traced, prop: Propagated
                     ) -> tuple[dict[str, ReceptiveField | None], dict[str, str]]:
    """Field of every op step that ran and produced a tensor (None where undefined), and for
    4-D outputs whose field is not computed, the reason."""
    steps = {s.name: s for s in traced.steps}
    out: dict[str, ReceptiveField | None] = {}
    notes: dict[str, str] = {}
    for name in prop.order:
        res = prop.results.get(name)
        value = first_tensor(res.value) if res is not None else None
        if value is None:
            continue
        st = steps[name]
        if st.op == "placeholder":
            out[name] = _INPUT_RF
            continue
        ins = [prop.aliases.get(n, n) for n in st.inputs]
        if res.rf is not None and res.rf.rule == "transposed" or \
                any(n in notes for n in ins) and res.rf is not None and res.rf.rule != "flat":
            out[name] = None
            if len(value.shape) == 4:
                notes[name] = TRANSPOSED_NOTE
            continue
        rf = apply(res.rf, [out.get(n) for n in ins if n in out])
        out[name] = rf if rf is not None and len(value.shape) == 4 else None
    return out, notes
