"""Runnable, standalone PyTorch code for a :class:`~vizapp.zoo.ModelSpec` (no Streamlit here).

Four styles, as on the seed page 003:

- ``sequential``  — ``net = nn.Sequential(nn.Conv2d(...), nn.Sigmoid(), ...)`` (names lost)
- ``add_module``  — ``net = nn.Sequential(); net.add_module("conv1", nn.Conv2d(...))``
- ``ordereddict`` — ``nn.Sequential(OrderedDict([("conv1", nn.Conv2d(...)), ...]))``
- ``class``       — ``class Net(nn.Module)`` with ``__init__`` and ``forward``

The three Sequential styles exist only for models that *are* a tree of ``nn.Sequential``
(LeNet, AlexNet, VGG, NiN …). The class style works for every model fx can trace: ``__init__``
rebuilds the module hierarchy with the same names (so ``state_dict`` keys match the original)
and ``forward`` is the torch.fx-generated code of the whole model — residual adds and
concatenations included.

Every leaf layer is written as a clean constructor (arguments read back from the module,
defaults left out) and checked: the constructor's ``repr`` must equal the original layer's, so
the generated model is the same architecture, with fresh weights.
"""

from __future__ import annotations

import inspect
import keyword
import math
import re
from typing import Any

import torch
from torch import fx, nn

from vizapp.custom.layer_args import call_values
from vizapp.i18n import N_, msg

STYLES = ("sequential", "add_module", "ordereddict", "class")
STYLE_TITLES = {"sequential": "nn.Sequential", "add_module": "add_module",
                "ordereddict": "OrderedDict", "class": "nn.Module class"}


class CodegenError(ValueError):
    """The model cannot be written in the requested style (the message says why)."""


# ------------------------------------------------------------------------------ leaf layers
# A leaf layer is written as ``nn.Name(value, key=value)`` from the layer's own attribute values.
# Nothing here evaluates text: the values are checked to be plain literals (numbers, text, None,
# tuples/lists of them), the layer is constructed again from those *values* to check that the
# call rebuilds it, and the code is ``repr`` of the values. (A layer's ``repr`` may contain text a
# user chose — a string where an int belongs — so it is never a source of code.)
def _lit(v: Any) -> str:
    """Python source for a plain value (see :func:`vizapp.custom.layer_args.plain`)."""
    if type(v) is float and not math.isfinite(v):
        return f"float({repr(str(v))})"  # float('inf'), float('nan')
    if type(v) is tuple:
        inner = ", ".join(_lit(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if type(v) is list:
        return "[" + ", ".join(_lit(x) for x in v) + "]"
    return repr(v)


def constructor_code(m: nn.Module) -> str:
    """``nn.Conv2d(1, 6, kernel_size=5, padding=2)`` for a torch.nn layer (checked)."""
    cls = type(m)
    qual = f"nn.{cls.__name__}" if getattr(nn, cls.__name__, None) is cls else None
    if qual is None:
        raise CodegenError(msg("{module}.{type} is not a torch.nn layer", module=cls.__module__,
                               type=cls.__name__))
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        sig = None
    values = call_values(m, sig) if sig is not None else None
    if values is not None and _rebuilds(cls, values, m):
        pos, kw = values
        return f"{qual}({', '.join([_lit(v) for v in pos] + [f'{k}={_lit(v)}' for k, v in kw])})"
    raise CodegenError(msg("cannot write a constructor for {type} ({error})", type=cls.__name__,
                           error=repr(m).splitlines()[0]))


_CHECKED: dict[tuple[type, str, str], bool] = {}


def _rebuilds(cls: type, values: tuple[list, list], m: nn.Module) -> bool:
    """True when ``cls(*pos, **kw)`` (built from the values, on meta) is the same layer as ``m``."""
    pos, kw = values
    key = (cls, _lit(tuple(pos)) + _lit(tuple(kw)), repr(m))
    if key not in _CHECKED:
        try:
            with torch.device("meta"):
                made = cls(*pos, **dict(kw))
            _CHECKED[key] = repr(made) == repr(m) and _param_shapes(made) == _param_shapes(m)
        except Exception:  # noqa: BLE001 - it does not rebuild: another way is needed
            _CHECKED[key] = False
    return _CHECKED[key]


def _param_shapes(m: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(n, tuple(p.shape)) for n, p in m.named_parameters()] + \
        [(n, tuple(b.shape)) for n, b in m.named_buffers()]


def _is_leaf(m: nn.Module) -> bool:
    """A layer fx calls as a whole: a torch.nn module that is not a container."""
    if isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return False
    return type(m).__module__.startswith(("torch.nn", "torch.ao.nn"))


def _plain_sequential(m: nn.Module) -> bool:
    return isinstance(m, nn.Sequential) and type(m).forward is nn.Sequential.forward


def sequential_tree(model: nn.Module) -> bool:
    """True when the model is nn.Sequential all the way down to torch.nn layers."""
    def ok(m: nn.Module) -> bool:
        if _is_leaf(m):
            return True
        if not _plain_sequential(m):
            return False
        if list(m.named_parameters(recurse=False)) or list(m.named_buffers(recurse=False)):
            return False
        return all(ok(c) for c in m.children())
    return _plain_sequential(model) and ok(model)


def styles_for(model: nn.Module) -> tuple[str, ...]:
    return STYLES if sequential_tree(model) else ("class",)


# ------------------------------------------------------------------------------ writers
_IND = "    "


def _seq_positional(m: nn.Module, level: int) -> str:
    if _is_leaf(m):
        return constructor_code(m)
    items = [_seq_positional(c, level + 1) for c in m.children()]
    pad = _IND * (level + 1)
    return "nn.Sequential(\n" + "".join(f"{pad}{it},\n" for it in items) + _IND * level + ")"


def _seq_ordered(m: nn.Module, level: int) -> str:
    if _is_leaf(m):
        return constructor_code(m)
    pad = _IND * (level + 1)
    items = [f'{pad}({_q(n)}, {_seq_ordered(c, level + 1)}),\n' for n, c in m.named_children()]
    return "nn.Sequential(OrderedDict([\n" + "".join(items) + _IND * level + "]))"


def _add_module_lines(m: nn.Module, var: str, out: list[str], used: set[str]) -> None:
    out.append(f"{var} = nn.Sequential()")
    for name, c in m.named_children():
        if _is_leaf(c):
            out.append(f'{var}.add_module({_q(name)}, {constructor_code(c)})')
        else:
            sub = _var(name, used)
            _add_module_lines(c, sub, out, used)
            out.append(f'{var}.add_module({_q(name)}, {sub})')


def _q(name: str) -> str:
    """A module name as a string literal: ``"conv1"``; ``repr`` for any other text (a name from
    the code box may hold quotes: it must stay one literal in the generated code)."""
    return f'"{name}"' if re.fullmatch(r"[A-Za-z0-9_]+", name) else repr(name)


def _var(name: str, used: set[str]) -> str:
    base = re.sub(r"\W", "_", name)
    if not base or base[0].isdigit() or keyword.iskeyword(base):
        base = "block_" + base
    v, i = base, 2
    while v in used:
        v, i = f"{base}_{i}", i + 1
    used.add(v)
    return v


def _tensor_init(name: str, t: torch.Tensor, param: bool) -> str:
    shape = tuple(t.shape)
    if not param:
        fill = f"torch.zeros({shape!r})"
    elif t.dim() == 1 and name.endswith("weight"):
        fill = f"torch.ones({shape!r})"
    elif name.endswith("bias"):
        fill = f"torch.zeros({shape!r})"
    else:
        fill = f"0.02 * torch.randn({shape!r})"
    return f"nn.Parameter({fill})" if param else fill


def _container(m: nn.Module, level: int) -> str:
    """An expression rebuilding ``m`` with the same child names (for the class style)."""
    if _is_leaf(m):
        return constructor_code(m)
    pad = _IND * (level + 1)
    kids = [(n, _container(c, level + 1)) for n, c in m.named_children()]
    own_p = list(m.named_parameters(recurse=False))
    own_b = list(m.named_buffers(recurse=False))
    if isinstance(m, nn.Sequential) and not own_p and not own_b:
        body = "".join(f'{pad}({_q(n)}, {e}),\n' for n, e in kids)
        return "nn.Sequential(OrderedDict([\n" + body + _IND * level + "]))"
    if isinstance(m, nn.ModuleList) and not own_p and not own_b:
        return "nn.ModuleList([\n" + "".join(f"{pad}{e},\n" for _, e in kids) + _IND * level + "])"
    if isinstance(m, nn.ModuleDict) and not own_p and not own_b:
        body = "".join(f'{pad}{_q(n)}: {e},\n' for n, e in kids)
        return "nn.ModuleDict({\n" + body + _IND * level + "})"
    parts = [f'{pad}({_q(n)}, {e}),\n' for n, e in kids]
    parts += [f'{pad}({_q(n)}, {_tensor_init(n, p, True)}),\n' for n, p in own_p]
    parts += [f'{pad}({_q(n)}, {_tensor_init(n, b, False)}),\n' for n, b in own_b]
    return f"Block(  # {type(m).__name__}\n" + "".join(parts) + _IND * level + ")"


_BLOCK_HELPER = '''
class Block(nn.Module):
    """A named container: the model's forward() below reaches into it by attribute."""

    def __init__(self, *items):
        super().__init__()
        for name, item in items:
            if isinstance(item, nn.Parameter):
                self.register_parameter(name, item)
            elif isinstance(item, torch.Tensor):
                self.register_buffer(name, item)
            else:
                self.add_module(name, item)
'''


def _camel(text: str) -> str:
    return "".join((p.upper() if len(p) <= 2 and p.isalpha() else p[:1].upper() + p[1:])
                   for p in re.split(r"[^0-9A-Za-z]+", text) if p)


def _class_name(spec: Any) -> str:
    raw = (spec.preset or spec.family).split(":")[-1]
    name = ""
    try:
        from vizapp.zoo import families
        title = families()[spec.family].title
        if raw.startswith(spec.family) and " " not in title:
            name = re.sub(r"\W", "", title) + _camel(raw[len(spec.family):])
    except Exception:  # noqa: BLE001
        name = ""
    name = name or _camel(raw)
    if not name or name[0].isdigit():
        name = "Net" + name
    return name


def _forward_from_fx(model: nn.Module) -> tuple[str, set[str]]:
    """``def forward(self, x): ...`` traced by torch.fx, and the imports it needs."""
    from vizapp.analysis.trace import TRACE_LOCK

    try:
        with TRACE_LOCK:  # fx patches process-wide state while it traces
            gm = fx.symbolic_trace(model)
    except Exception as exc:  # noqa: BLE001
        raise CodegenError(msg("torch.fx cannot trace this model ({type}: {exc}); no class code "
                               "can be generated", type=type(exc).__name__, exc=str(exc))) from None
    pc = gm.graph.python_code(root_module="self")
    src = pc.src.strip("\n")
    imports: set[str] = set()
    for name, obj in pc.globals.items():
        if name in ("torch", "inf", "nan", "NoneType", "device", "fx_pytree", "pytree") or \
                not re.search(rf"\b{re.escape(name)}\b", src):
            continue
        if inspect.ismodule(obj):
            imports.add(f"import {obj.__name__} as {name}")
        elif getattr(obj, "__module__", None) and getattr(obj, "__name__", None):
            mod = obj.__module__
            imports.add(f"from {mod} import {obj.__name__}" if obj.__name__ == name
                        else f"from {mod} import {obj.__name__} as {name}")
        else:
            raise CodegenError(msg("the traced forward uses '{name}', which cannot be imported",
                                   name=name))
    for name in ("inf", "nan"):
        if re.search(rf"\b{name}\b", src):
            imports.add(f"from math import {name}")
    if re.search(r"\bNoneType\b", src):
        imports.add("NoneType = type(None)")
    # drop fx's "x = None" bookkeeping for readability; call the input x
    src = re.sub(r";  [\w ,=]+ = None$", "", src, flags=re.M)
    if not re.search(r"\bx\b", src):
        src = re.sub(r"\binput\b", "x", src)
    alias = re.search(r"^\s+(\w+) = x$", src, flags=re.M)  # fx's "input_1 = input"
    if alias and alias.group(1) != "x":
        src = src.replace(alias.group(0) + "\n", "", 1)
        src = re.sub(rf"\b{alias.group(1)}\b", "x", src)
    src = re.sub(r"([(,] ?)(\w+) = ", r"\1\2=", src)  # dim = 1 → dim=1
    src = src.replace(", inplace=False)", ")")
    src = "\n".join(line.rstrip() for line in src.splitlines()).rstrip()
    return src, imports


def _class_code(model: nn.Module, cls_name: str) -> tuple[str, set[str]]:
    lines = [f"class {cls_name}(nn.Module):", f"{_IND}def __init__(self):",
             f"{_IND * 2}super().__init__()"]
    for name, child in model.named_children():
        expr = _container(child, 2)
        if name.isidentifier() and not keyword.iskeyword(name):
            lines.append(f"{_IND * 2}self.{name} = {expr}")
        else:
            lines.append(f'{_IND * 2}self.add_module({_q(name)}, {expr})')
    for name, p in model.named_parameters(recurse=False):
        lines.append(f"{_IND * 2}self.{name} = {_tensor_init(name, p, True)}")
    for name, b in model.named_buffers(recurse=False):
        lines.append(f'{_IND * 2}self.register_buffer({_q(name)}, {_tensor_init(name, b, False)})')
    lines.append("")
    imports: set[str] = set()
    if sequential_tree(model):
        lines.append(f"{_IND}def forward(self, x):")
        for name, _ in model.named_children():
            ref = f"self.{name}" if name.isidentifier() else f"getattr(self, {_q(name)})"
            lines.append(f"{_IND * 2}x = {ref}(x)")
        lines.append(f"{_IND * 2}return x")
    else:
        fwd, imports = _forward_from_fx(model)
        lines += [_IND + line if line else line for line in fwd.splitlines()]
    return "\n".join(lines), imports


def _docstring_safe(text: str) -> str:
    """Text that stays inside a triple-quoted docstring (no quotes, backslashes or newlines)."""
    return re.sub(r'["\\\r\n]', "'", str(text))


def generate(spec: Any, style: str = "class", model: nn.Module | None = None,
             lang: str | None = None) -> str:
    """The standalone code of ``spec`` in ``style``; defines ``net`` (and the class); its
    comments in ``lang`` (default: the current language).

    Raises :class:`CodegenError` when the style does not fit the model."""
    from vizapp import i18n

    with i18n.using(lang or i18n.get_lang()):
        return _generate(spec, style, model)


def header_lines(first: str, english: list[str], template: str, **fields: Any) -> list[str]:
    """The generated file's docstring: ``english`` as written, or ``template`` translated as
    one message (a translation is not cut where the English lines end, nor wrapped: Chinese has
    no spaces to wrap at)."""
    from vizapp import i18n

    if i18n.get_lang() == i18n.SOURCE_LANG:
        return [first, "", *english, '"""']
    return [first, "", _docstring_safe(i18n._(template).format(**fields)), '"""']


def _generate(spec: Any, style: str, model: nn.Module | None) -> str:
    if style not in STYLES:
        raise CodegenError(msg("unknown style '{style}'; styles: {names}", style=style,
                               names=", ".join(STYLES)))
    if model is None:
        from vizapp.analysis import build_for_analysis
        model, _ = build_for_analysis(spec)  # on meta: no memory, same architecture
    if style != "class" and not sequential_tree(model):
        raise CodegenError(msg("{label} is not a chain of nn.Sequential layers (it has residual "
                               "additions, concatenations or custom blocks), so only the class "
                               "style can express it", label=spec.label))
    n_params = sum(p.numel() for p in model.parameters())
    cfg = spec.config
    n, (c, h, w) = cfg.batch, cfg.input_shape
    first = '"""' + _docstring_safe(msg("{label} — generated by vizapp ({style} style).",
                                            label=spec.label, style=STYLE_TITLES[style]))
    header = header_lines(first, [
        f"Input {n}×{c}×{h}×{w}; {n_params:,} parameters. The layers are the configuration's",
        "layers; the weights are freshly initialised (PyTorch defaults), not trained."],
        N_("Input {shape}; {n} parameters. The layers are the configuration's layers; the "
           "weights are freshly initialised (PyTorch defaults), not trained."),
        shape=f"{n}×{c}×{h}×{w}", n=f"{n_params:,}")
    imports = {"import torch", "from torch import nn"}
    body: list[str] = []
    if style == "sequential":
        body.append("net = " + _seq_positional(model, 0))
    elif style == "ordereddict":
        imports.add("from collections import OrderedDict")
        body.append("net = " + _seq_ordered(model, 0))
    elif style == "add_module":
        _add_module_lines(model, "net", body, {"net"})
    else:
        cls_name = _class_name(spec)
        code, extra = _class_code(model, cls_name)
        imports |= extra
        if "OrderedDict(" in code:
            imports.add("from collections import OrderedDict")
        if "Block(" in code:
            body.append(_BLOCK_HELPER.strip("\n"))
            body.append("")
            body.append("")
        body.append(code)
        body.append("")
        body.append("")
        body.append(f"net = {cls_name}()")
    main = ["", "", 'if __name__ == "__main__":', f"{_IND}X = torch.randn({n}, {c}, {h}, {w})"]
    if style != "class" and sequential_tree(model):
        main += [f"{_IND}for name, layer in net.named_children():  # the seed's shape loop",
                 f"{_IND * 2}X = layer(X)",
                 f"{_IND * 2}print(name, layer.__class__.__name__, 'output shape:\\t', X.shape)"]
    else:
        main += [f"{_IND}print(net(X).shape)"]
    main.append(f"{_IND}print(sum(p.numel() for p in net.parameters()), 'parameters')")
    ordered = sorted(i for i in imports if i.startswith("import "))
    ordered += sorted(i for i in imports if i.startswith("from "))
    ordered += sorted(i for i in imports if not i.startswith(("import ", "from ")))
    from .code_words import localize

    return localize("\n".join(header + [""] + ordered + ["", ""] + body + main) + "\n")


def available_styles(spec: Any) -> tuple[str, ...]:
    from vizapp.analysis import build_for_analysis
    model, _ = build_for_analysis(spec)
    return styles_for(model)
