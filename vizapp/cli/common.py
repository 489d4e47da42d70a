"""Arguments shared by the sub-commands that take a model: PRESET, --set, --input, --batch."""

from __future__ import annotations

import argparse
import math
from typing import Any

from vizapp.i18n import _
from vizapp.zoo.base import parse_input
from vizapp.zoo import ModelSpec, resolve

from .errors import UserError


def add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="PRESET", nargs="?",
                   help="a preset (see `vizapp presets`), a family name, or torchvision:NAME")
    p.add_argument("--code", metavar="FILE",
                   help="your own model instead of a preset: a file in the app's code-box "
                        "language ('-' = standard input), e.g. net = nn.Sequential(...)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KNOB=VALUE",
                   help="change a knob, e.g. --set growth_rate=16 --set blocks=3,4,6,3")
    p.add_argument("--input", metavar="C,H,W", help="input channels, height, width")
    p.add_argument("--batch", type=int, metavar="N", help="batch size")


def spec_from_args(args: argparse.Namespace) -> ModelSpec:
    overrides: dict[str, str] = {}
    for item in args.sets:
        if "=" not in item:
            raise UserError(f"--set takes KNOB=VALUE, got '{item}'")
        k, v = item.split("=", 1)
        overrides[k.strip()] = v.strip()
    if args.input:
        overrides.update(parse_input(args.input, "--input"))
    if args.batch is not None:
        overrides["batch"] = str(args.batch)
    if getattr(args, "code", None):
        if args.model:
            raise UserError("give a PRESET or --code FILE, not both")
        return code_spec(read_code(args.code), overrides)
    if not args.model:
        raise UserError("name a PRESET (see `vizapp presets`) or give --code FILE")
    if args.model.lower().endswith((".onnx", ".pt2")):
        return model_file_spec(args.model, overrides)
    return resolve(args.model, overrides)


def model_file_spec(path: str, overrides: dict[str, str]) -> ModelSpec:
    """A model file named on the command line (``vizapp table model.onnx``): read here, with the
    local-file cap (the app's uploads have 16 MB)."""
    from pathlib import Path

    from vizapp import modelfile
    from vizapp.zoo.modelfile import file_spec

    p = Path(path)
    try:
        if p.stat().st_size > modelfile.MAX_LOCAL_BYTES:
            raise UserError(f"{path} is larger than {modelfile.MAX_LOCAL_BYTES >> 20} MB")
        data = p.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    spec = file_spec(p.name, data, modelfile.MAX_LOCAL_BYTES)
    if overrides:
        spec = ModelSpec(spec.family, spec.config.with_overrides(overrides), None)
    return spec


def read_code(path: str) -> str:
    import sys
    from pathlib import Path

    from vizapp.custom import limits
    try:
        text = sys.stdin.read(limits.MAX_SOURCE_CHARS + 1) if path == "-" else \
            Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read --code {path}: {getattr(exc, 'strerror', None) or exc}") \
            from None
    return text


def code_spec(code: str, overrides: dict[str, str]) -> ModelSpec:
    """Your own model (the custom family's defaults, 1×28×28) with input overrides; a refused
    code raises ConfigError: one line naming the line number and the reason."""
    from vizapp.zoo.custom import CustomConfig

    cfg = CustomConfig(code=code.strip()).with_overrides(overrides)
    cfg.validate()
    return ModelSpec("custom", cfg, None)


def failure_text(a) -> str:
    """One line: where the shapes fail, why, the fix, and the --input that works."""
    f = a.failure
    hint = (_(" (try --input {input})").format(
        input=f"{a.input_shape[1]},{f.min_input[0]},{f.min_input[1]}") if f.min_input else "")
    return _("at {where} ({op}): {message}. Fix: {fix}").format(
        where=f.module_path or f.node, op=f.op, message=f.message, fix=f.fix) + hint


def strict_json(v: Any) -> Any:
    """``v`` with NaN/inf floats as None, so ``json.dump`` writes strict JSON."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: strict_json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [strict_json(x) for x in v]
    return v
