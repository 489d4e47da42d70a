"""``vizapp bn``: BatchNorm statistics — the seed 003 demo, or any model's BN layers.

``vizapp bn --demo --seed S --format json`` runs ``torch.manual_seed(S); x = torch.randn(4, 3,
2, 2)`` through a fresh ``BatchNorm2d(3)`` (one train-mode step per momentum 0.1 and 1.0).
``vizapp bn PRESET [--layer NAME] [--steps K] [--momentum M]`` prints the statistics of a
model's BN layers on a seeded synthetic batch, and with ``--steps`` the running statistics
after each of K train-mode passes.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from vizapp.i18n import _

from .common import strict_json
from .errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bn", help="BatchNorm statistics: the seed demo or a model's BN layers",
        description="Per-channel batch mean and variance (biased and unbiased), running "
                    "statistics, γ/β, output mean/std and the manual-formula check of BN layers.")
    p.add_argument("model", metavar="PRESET", nargs="?",
                   help="a preset, a family or torchvision:NAME (omit with --demo)")
    p.add_argument("--demo", action="store_true",
                   help="seed 003's example: randn(4, 3, 2, 2) through BatchNorm2d(3)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the batch (default 0)")
    p.add_argument("--layer", metavar="NAME", help="only this BN layer (module path)")
    p.add_argument("--steps", type=int, metavar="K",
                   help="also show the running stats over K train-mode passes")
    p.add_argument("--momentum", default="0.1", metavar="M",
                   help="momentum for --steps: a number in (0, 1] or 'none' (cumulative "
                        "average); default 0.1")
    p.add_argument("--channels", type=int, default=8, metavar="C",
                   help="text format: channels shown per layer (default 8)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KNOB=VALUE",
                   help="change a knob, e.g. --set growth_rate=16")
    p.add_argument("--input", metavar="C,H,W", help="input channels, height, width")
    p.add_argument("--batch", type=int, metavar="N",
                   help="batch size of the synthetic batch (default: the preset's, at least 2)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vizapp.labs import bn

    if args.demo:
        if args.model:
            raise UserError("--demo takes no PRESET (it uses a lone BatchNorm2d(3))")
        demo = bn.seed_demo(args.seed)
        if args.format == "json":
            json.dump(demo.to_dict(), sys.stdout, indent=2)
            print()
        else:
            print(format_demo(demo))
        return 0
    if not args.model:
        raise UserError("give a PRESET (see `vizapp presets`) or --demo")
    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    try:
        momentum = bn.parse_momentum(args.momentum)
    except bn.BNError as exc:
        raise UserError(f"--momentum: {exc}") from None

    from vizapp.zoo import build_model

    from .common import spec_from_args

    spec = spec_from_args(args)
    batch = args.batch if args.batch is not None else max(2, spec.batch)
    _check_budget(spec, batch)
    model = build_model(spec)
    names = [n for n, _ in bn.bn_layers(model)]
    if not names:
        raise UserError(f"{spec.label} has no BatchNorm layer; try lenet-bn, resnet18 or "
                        f"densenet")
    if args.layer is not None and args.layer not in names:
        raise UserError(bn.unknown_layer_message(args.layer, names))
    try:
        report = bn.analyze_bn(model, spec.input_shape, batch=batch, seed=args.seed,
                               layers=[args.layer] if args.layer else None,
                               model_name=spec.label)
        evo = None
        if args.steps:
            target = args.layer or names[0]
            evo = bn.running_evolution(model, target, spec.input_shape, batch=batch,
                                       steps=args.steps, momenta=(momentum,), seed=args.seed,
                                       max_channels=args.channels)[0]
    except bn.BNError as exc:
        raise UserError(str(exc)) from None
    if args.format == "json":
        d = report.to_dict()
        if evo is not None:
            d["evolution"] = evo.to_dict()
        json.dump(strict_json(d), sys.stdout, indent=2)
        print()
    else:
        print(format_report(report, args.channels))
        if evo is not None:
            print()
            print(format_evolution(evo))
    return 0


def _check_budget(spec: Any, batch: int) -> None:
    """Refuse, on meta and with the numbers, a model whose real weights (+ the deep copy the
    BN functions work on) and one pass of the batch exceed the budget."""
    from vizapp.runtime import RunError, check_build

    try:
        check_build(spec, batch, weight_copies=2)
    except RunError as exc:
        raise UserError(str(exc)) from None



def _row(label: str, values: Sequence[float], k: int, width: int = 10,
         more: bool = False) -> str:
    shown = " ".join(f"{v:>{width}.4f}" for v in values[:k])
    more = f"  … ({len(values) - k} more)" if more and len(values) > k else ""
    return f"  {label:<22}{shown}{more}"


def format_demo(d) -> str:
    lines = [f"torch.manual_seed({d.seed}); x = torch.randn{d.input_shape}  →  BatchNorm2d(3)",
             _("each channel averages 4·2·2 = 16 values over (N, H, W)"), ""]
    lines.append(_row("channel", [0, 1, 2], 3).replace(".0000", "     "))
    lines.append(_row("batch mean", d.batch_mean, 3))
    lines.append(_row("var biased (÷16)", d.batch_var_biased, 3))
    lines.append(_row("var unbiased (÷15)", d.batch_var_unbiased, 3))
    for m in ("0.1", "1.0"):
        lines.append(_row(f"running_mean m={m}", d.running_mean[m], 3))
        lines.append(_row(f"running_var  m={m}", d.running_var[m], 3))
    lines.append(_row("output mean", d.output_mean, 3))
    lines.append(_row("output std", d.output_std, 3))
    lines += ["",
              _("running = (1 − m)·running + m·batch, from running_mean = 0, running_var = 1: "
                "with m = 0.1 running_mean is a tenth of the batch mean (the seed's 'missing "
                "decimal point'); with m = 1 it equals it."),
              _("normalisation divides by sqrt(biased var + eps); running_var stores the "
                "unbiased var."),
              f"max |manual (x − mean)/sqrt(var + eps)·γ + β − module| = "
              f"{d.max_abs_diff_manual_vs_module:.3g}"]
    return "\n".join(lines)


def format_report(r, k: int = 8) -> str:
    lines = [f"{r.model}: " + _("input {shape}, {source}, train-mode pass on a copy").format(
        shape=tuple(r.input_shape), source=r.source)]
    for s in r.layers:
        lines.append("")
        lines.append(f"{s.name}  {s.type}({s.num_features})  input {s.input_shape}  "
                     f"n = {s.values_per_channel} values/channel  eps={s.eps:g}  "
                     f"momentum={s.momentum if s.momentum is not None else 'None'}")
        head = _row("channel", list(range(s.num_features)), k, more=True)
        lines.append(head.replace(".0000", "     "))
        lines.append(_row("batch mean", s.batch_mean, k))
        lines.append(_row("var biased", s.batch_var_biased, k))
        lines.append(_row("var unbiased", s.batch_var_unbiased, k))
        lines.append(_row("running_mean before", s.running_mean_before, k))
        lines.append(_row("running_mean after", s.running_mean_after, k))
        lines.append(_row("running_var before", s.running_var_before, k))
        lines.append(_row("running_var after", s.running_var_after, k))
        lines.append(_row("γ (weight)", s.weight, k))
        lines.append(_row("β (bias)", s.bias, k))
        lines.append(_row("output mean", s.out_mean, k))
        lines.append(_row("output std", s.out_std, k))
        lines.append(f"  max |manual − module| = {s.max_abs_diff_manual:.3g}   "
                     f"max |train − eval output| = {s.max_abs_diff_train_eval:.3g}")
    for n in r.notes:
        lines.append(_("note: {text}").format(text=n))
    return "\n".join(lines)


def format_evolution(e) -> str:
    from vizapp.labs.bn import momentum_label

    k = len(e.channels)
    lines = [f"{e.layer}: " + _("running statistics over {n} train-mode passes, momentum {m} "
                                "(step 0 = before any pass)").format(
        n=e.steps, m=momentum_label(e.momentum))]
    lines.append(_row("step / channel", list(e.channels), k).replace(".0000", "     "))
    for i, row in enumerate(e.running_mean):
        lines.append(_row(f"{i:>3} running_mean", row, k))
    lines.append(_row("average batch mean", e.cumulative_mean[-1], k))
    for i, row in enumerate(e.running_var):
        lines.append(_row(f"{i:>3} running_var", row, k))
    lines.append(_row("average unbiased var", e.cumulative_var[-1], k))
    return "\n".join(lines)
