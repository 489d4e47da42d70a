"""``vizapp explain PRESET --layer NAME --at C,H,W``: the arithmetic of one output value.

The same breakdown as the app's *Inside a layer* page (:mod:`vizapp.labs.explain`): the input
window, the kernel, the products' sum per input channel, the bias, the output, the real
forward's value at that position, what follows the layer (BN, activation) and the receptive-
field box. ``--input-file`` takes a PNG/JPEG or a ``.npy`` array (an image, or the model's
input C×H×W itself); the default input is the generated digit 7. ``--weights`` takes a file
written by ``vizapp train --save``. A layer or position that does not exist: one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from vizapp.i18n import _

from .common import add_model_args, spec_from_args, strict_json
from .errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explain", help="the arithmetic of one output value of a layer (window, kernel, sum)",
        description="Take one output value of a layer apart on real numbers: the input window "
                    "(padding as zeros), the kernel, the products' sum per input channel, the "
                    "bias, the result next to the real forward's value, BN and activation "
                    "after it, and the receptive-field box on the input.")
    add_model_args(p)
    p.add_argument("--layer", required=True, metavar="NAME",
                   help="module path, e.g. conv2 or b3.0.conv1 (`vizapp table` lists them)")
    p.add_argument("--at", required=True, metavar="C,H,W",
                   help="the output position: channel, row, column (one index for a flat "
                        "output)")
    p.add_argument("--input-file", metavar="FILE",
                   help="a PNG/JPEG image or a .npy array (default: a drawn digit 7)")
    p.add_argument("--weights", metavar="FILE", help="weights saved by `vizapp train --save`")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def load_input(path: str | None, input_shape: tuple[int, ...]):
    """The model input: the digit 7, an image file, or a .npy (the input itself when its
    shape is C×H×W or 1×C×H×W of the model's, else an image)."""
    import numpy as np
    import torch

    from vizapp.labs import features

    if path is None:
        return features.make_input("digit", input_shape, digit=7)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read --input-file {path}: {exc.strerror or exc}") from None
    try:
        if path.lower().endswith(".npy"):
            import io
            a = np.load(io.BytesIO(raw), allow_pickle=False)
            if tuple(a.shape[-3:]) == tuple(input_shape) and a.ndim in (3, 4):
                return torch.as_tensor(a.reshape(1, *input_shape), dtype=torch.float32)
            return features.image_to_input(a, input_shape)
        return features.image_to_input(features.decode_image(raw), input_shape)
    except features.FeatureError as exc:
        raise UserError(f"--input-file {path}: {exc}") from None
    except ValueError as exc:
        raise UserError(f"--input-file {path}: not a .npy array numpy can read ({exc})") \
            from None


def load_weights(model: Any, path: str) -> None:
    """Load a ``vizapp train --save`` file into ``model`` (same configuration only)."""
    from vizapp.labs import train as train_lab

    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read --weights {path}: {exc.strerror or exc}") from None
    try:
        sd, _cfg = train_lab.load_bytes(raw)
        model.load_state_dict(sd)
    except train_lab.TrainError as exc:
        raise UserError(f"--weights {path}: {exc}") from None
    except (RuntimeError, KeyError) as exc:
        raise UserError(f"--weights {path}: its weights do not fit this configuration "
                        f"({' '.join(str(exc).split())[:160]}); give the PRESET and --set "
                        f"it was trained with") from None


def run(args: argparse.Namespace) -> int:
    from vizapp import analyze
    from vizapp.labs import explain
    from vizapp.runtime import RunError, check_build
    from vizapp.zoo import build_model

    spec = spec_from_args(args)
    at = _parse_at(args.at)
    try:
        check_build(spec, 1, weight_copies=2)
    except RunError as exc:
        raise UserError(str(exc)) from None
    model = build_model(spec, seed=0)  # the app's random weights (seed 0) unless --weights
    if args.weights:
        load_weights(model, args.weights)
    x = load_input(args.input_file, spec.input_shape)
    a = analyze(model, tuple(x.shape))
    try:
        b = explain.explain(model, args.layer, x, at, analysis=a, private=True)
    except explain.ExplainError as exc:
        raise UserError(str(exc)) from None
    if args.format == "json":
        json.dump(strict_json(b.to_dict()), sys.stdout)
        print()
    else:
        print(format_breakdown(b))
    return 0


def _parse_at(text: str) -> tuple[int, ...]:
    from vizapp.labs import explain

    try:
        return explain.parse_at(text)
    except explain.ExplainError as exc:
        raise UserError(str(exc)) from None



def _num(v: float) -> str:
    return f"{v:+.4f}"


def _grid_lines(g: Any, width: int = 8) -> list[str]:
    return ["    " + " ".join(f"{v:>{width}.4f}" for v in row) for row in g]


def _conv_lines(b: Any, channels: int = 4) -> list[str]:
    lines = [_("window rows {rows}, cols {cols} (kernel {k}, stride {s}, padding {p}, "
               "dilation {d}, groups {g})").format(rows=list(b.rows), cols=list(b.cols),
                                                   k=b.kernel, s=b.stride, p=b.padding,
                                                   d=b.dilation, g=b.groups)]
    for t in b.terms[:channels]:
        lines.append(_("input channel {c}: window").format(c=t.in_channel))
        lines += _grid_lines(t.window)
        if t.weights:
            lines.append("  " + _("kernel"))
            lines += _grid_lines(t.weights)
        lines.append("  " + (_("sum of products = {s}") if t.weights else
                             _("window sum = {s}")).format(s=_num(t.sum)))
    if len(b.terms) > channels:
        rest = sum(t.sum for t in b.terms[channels:])
        lines.append(_("… {n} more input channels, their sums add up to {s}").format(
            n=len(b.terms) - channels, s=_num(rest)))
    return lines


def format_breakdown(b: Any) -> str:
    """The breakdown as text (the first channels' windows; JSON has them all)."""
    lines = [f"{b.layer} ({b.type})  at {b.at}  input {b.input_shape[1:]} → output "
             f"{b.output_shape[1:]}"]
    if b.kind in ("conv", "pool"):
        lines += _conv_lines(b)
    if b.kind == "pool":
        lines.append(_("max at input (row, col) {rc}").format(rc=b.picked) if b.pool == "max"
                     else _("window sum {s} ÷ {d}").format(s=_num(b.total), d=b.divisor))
    elif b.kind in ("conv", "linear"):
        if b.kind == "linear":
            lines.append(_("dot product of {n} inputs with the weight row = {s}").format(
                n=len(b.vector), s=_num(b.total)))
        lines.append(_("sum {s} + bias {bias} = {out}").format(
            s=_num(b.total), bias=_num(b.bias or 0.0), out=_num(b.output)))
    elif b.kind in ("add", "cat"):
        for s in b.sources:
            lines.append(f"  {s.node} ({s.module or '-'}) [{s.channel}] = {_num(s.value)}")
    lines.append(_("output {out}   real forward {fwd}   |difference| {err:.2e}").format(
        out=_num(b.output), fwd=_num(b.forward_output), err=b.error))
    for s in b.then:
        fwd = "" if s.forward_output is None else "  " + _("(forward {v})").format(
            v=_num(s.forward_output))
        lines.append(f"  → {s.name} ({s.op}): {_num(s.input)} → {_num(s.output)}{fwd}")
    if b.rf_box is not None:
        t, left, bottom, right = b.rf_box
        lines.append(_("receptive field {size}: input rows {t}…{b}, columns {l}…{r}").format(
            size=b.rf_size, t=t, b=bottom, l=left, r=right))
    return "\n".join(lines)
