"""The seed pages' own way of writing ResNet, GoogLeNet and DenseNet, generated from a config.

Where :mod:`vizapp.render.code` writes any model as one class with a torch.fx-traced forward,
this module writes the three families the way seeds 000/001/002 do:

- ResNet, basic blocks (seeds 000/002): ``Residual`` + ``resnet_block`` and ``b1 … b5``;
- ResNet, bottleneck blocks (seed 001): ``Bottleneck`` (the seed's ``block``) and the ``ResNet``
  class whose ``_make_layer`` builds each stage;
- GoogLeNet (seed 002): ``Inception`` with branches ``p1 … p4`` and ``b1 … b5``;
- DenseNet (seed 000): ``conv_block``, ``DenseBlock``, ``transition_block`` and the loop over
  ``num_convs_in_dense_blocks``.

The numbers (channels, blocks per stage, growth rate, compression, bias, BatchNorm) come from
the spec's config, so a changed knob changes the code. The top-level container is written in
each of seed 003's four styles; the blocks inside are always classes, because ``nn.Sequential``
cannot add a shortcut or concatenate branches. Top-level children carry the app's names (``b1``,
``dense_block_0`` …), so the seed's shape loop prints exactly the Shapes table at depth 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from vizapp.i18n import N_, msg

from .code import STYLE_TITLES, STYLES, CodegenError, constructor_code, header_lines
from .code_words import localize

_I = "    "


@dataclass(frozen=True)
class Entry:
    """One top-level child of ``net``: its name and the expression that builds it."""

    name: str
    expr: str  # in the sequential styles (module level)
    cls_expr: str = ""  # in the class style, when it differs (``self._make_layer(...)``)
    var: bool = False  # defined as its own variable first (``b1 = nn.Sequential(...)``)


@dataclass(frozen=True)
class Loop:
    """Children added by a loop (DenseNet's blocks): ``lines`` with ``ADD(name, value)``."""

    setup: tuple[str, ...]
    lines: tuple[str, ...]


@dataclass(frozen=True)
class SeedModel:
    title: str  # "ResNet" …
    helpers: str  # the block classes and functions, as the seed writes them
    items: tuple[Entry | Loop, ...]
    seq_helpers: str = ""  # helpers only the three nn.Sequential styles need
    class_setup: tuple[str, ...] = ()  # first lines of the class's __init__
    class_helpers: str = ""  # methods of the model class (``_make_layer``), class style only
    class_args: str = ""  # "" or the class constructor's call, e.g. "Bottleneck, [3, 4, 6, 3]"
    class_params: str = ""  # its parameters, e.g. "block, layers"


def seed_families() -> tuple[str, ...]:
    """The families the seed pages write with their own blocks (``Family.seed_code``)."""
    from vizapp.zoo import families

    return tuple(n for n, f in families().items() if f.seed_code)


def supports(spec: Any) -> bool:
    return getattr(spec, "family", None) in seed_families()


def seed_style(spec: Any) -> str:
    """The style the seed page itself uses: seed 001's class for the bottleneck ResNet, seed
    000's add_module for DenseNet, seed 002's nn.Sequential(b1, …, b5) otherwise."""
    cfg = getattr(spec, "config", None)
    if spec.family == "resnet" and getattr(cfg, "block", "") == "bottleneck":
        return "class"
    return "add_module" if spec.family == "densenet" else "sequential"


def _seq_text(mods: list[nn.Module], level: int = 0) -> str:
    pad = _I * (level + 1)
    return "nn.Sequential(\n" + "".join(f"{pad}{constructor_code(m)},\n" for m in mods) + \
        _I * level + ")"


def _bias(on: bool) -> str:
    return "" if on else ", bias=False"


def _bn(on: bool, c: str) -> str:
    return f"nn.BatchNorm2d({c})" if on else "nn.Identity()"


# ------------------------------------------------------------------------------ ResNet
def _residual_class(cfg: Any) -> str:
    b = _bias(cfg.conv_bias)
    proj = f"nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides{b})"
    if cfg.shortcut == "conv-bn":
        proj = f"nn.Sequential({proj}, {_bn(cfg.batch_norm, 'num_channels')})"
    return f'''class Residual(nn.Module):
    """Basic block: two 3×3 convs; a 1×1 conv on the shortcut when the shape changes."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1,
                               stride=strides{b})
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1{b})
        if use_1x1conv:
            self.conv3 = {proj}
        else:
            self.conv3 = None
        self.bn1 = {_bn(cfg.batch_norm, "num_channels")}
        self.bn2 = {_bn(cfg.batch_norm, "num_channels")}

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3 is not None:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)'''


def _resnet_block_fn(cfg: Any) -> str:
    widen = ""
    if cfg.stem_channels != cfg.widths[0]:  # the first stage must widen the stem's channels
        widen = ("\n        elif i == 0 and input_channels != num_channels:\n"
                 "            blk.append(Residual(input_channels, num_channels, use_1x1conv=True))")
    return f'''def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2)){widen}
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk'''


def _bottleneck_class(cfg: Any) -> str:
    b = _bias(cfg.conv_bias)
    bn = lambda c: _bn(cfg.batch_norm, c)  # noqa: E731
    return f'''class Bottleneck(nn.Module):
    """Seed 001's ``block``: 1×1 reduce → 3×3 (with the stride) → 1×1 expand ×4."""

    expansion = 4

    def __init__(self, in_channels, out_channels, identity_downsample=None, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0{b})
        self.bn1 = {bn("out_channels")}
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=stride,
                               padding=1{b})
        self.bn2 = {bn("out_channels")}
        self.conv3 = nn.Conv2d(out_channels, out_channels * self.expansion, kernel_size=1,
                               stride=1, padding=0{b})
        self.bn3 = {bn("out_channels * self.expansion")}
        self.relu = nn.ReLU()
        self.identity_downsample = identity_downsample

    def forward(self, x):
        identity = x
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        # x and identity must have the same shape to be added
        if self.identity_downsample is not None:
            identity = self.identity_downsample(identity)
        x += identity
        return self.relu(x)'''


def _downsample(cfg: Any, cin: str) -> str:
    conv = f"nn.Conv2d({cin}, out_channels * 4, kernel_size=1, stride=stride{_bias(cfg.conv_bias)})"
    if cfg.shortcut != "conv-bn":
        return conv
    return f"nn.Sequential(\n            {conv},\n            " \
           f"{_bn(cfg.batch_norm, 'out_channels * 4')})"


def _make_layer(cfg: Any, method: bool) -> str:
    """Seed 001's ``ResNet._make_layer`` (``method``) or the same as a module-level function."""
    cin = "self.in_channels" if method else "in_channels"
    head = ("    def _make_layer(self, block, num_residual_blocks, out_channels, stride):"
            if method else
            "def make_layer(block, in_channels, num_residual_blocks, out_channels, stride):\n"
            '    """Seed 001\'s ResNet._make_layer, as a function."""')
    text = f'''{head}
    identity_downsample = None
    layers = []
    # change the shortcut's shape so that x + identity can be added
    if stride != 1 or {cin} != out_channels * 4:
        identity_downsample = {_downsample(cfg, cin)}
    layers.append(block({cin}, out_channels, identity_downsample, stride))
    {cin} = out_channels * 4
    for i in range(num_residual_blocks - 1):
        layers.append(block({cin}, out_channels))
    return nn.Sequential(*layers)'''
    if method:  # one level deeper inside the class
        lines = text.splitlines()
        text = "\n".join([lines[0]] + [_I + ln if ln else ln for ln in lines[1:]])
    return text


def _resnet(spec: Any, model: nn.Module) -> SeedModel:
    cfg = spec.config
    b1 = Entry("b1", _seq_text(list(model.b1.children())), var=True)
    tail = [Entry(n, constructor_code(getattr(model, n))) for n in ("avgpool", "flatten", "fc")]
    stages: list[Entry] = []
    if cfg.block == "basic":
        cin = cfg.stem_channels
        for i, (n, w) in enumerate(zip(cfg.blocks, cfg.widths)):
            first = ", first_block=True" if i == 0 else ""
            stages.append(Entry(f"b{i + 2}", f"nn.Sequential(*resnet_block({cin}, {w}, {n}{first}))",
                                var=True))
            cin = w
        helpers = _residual_class(cfg) + "\n\n\n" + _resnet_block_fn(cfg)
        return SeedModel("ResNet", helpers, (b1, *stages, *tail))
    cin = cfg.stem_channels
    for i, (n, w) in enumerate(zip(cfg.blocks, cfg.widths)):
        stride = 1 if i == 0 else 2
        stages.append(Entry(
            f"b{i + 2}", f"make_layer(Bottleneck, {cin}, {n}, out_channels={w}, stride={stride})",
            cls_expr=f"self._make_layer(block, layers[{i}], out_channels={w}, stride={stride})",
            var=True))
        cin = w * 4
    return SeedModel("ResNet", _bottleneck_class(cfg), (b1, *stages, *tail),
                     seq_helpers=_make_layer(cfg, method=False),
                     class_setup=(f"self.in_channels = {cfg.stem_channels}",),
                     class_helpers=_make_layer(cfg, method=True),
                     class_args=f"Bottleneck, {list(cfg.blocks)}", class_params="block, layers")


# ------------------------------------------------------------------------------ GoogLeNet
_INCEPTION = '''class Inception(nn.Module):
    """Four parallel branches p1…p4, concatenated on the channel axis (in that order)."""

    # c1--c4 are the output channels of each branch
    def __init__(self, in_channels, c1, c2, c3, c4, **kwargs):
        super().__init__(**kwargs)
        # branch 1: a single 1×1 conv
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        # branch 2: 1×1 conv, then 3×3 conv
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        # branch 3: 1×1 conv, then 5×5 conv
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        # branch 4: 3×3 max pool, then 1×1 conv
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)'''


def _googlenet(spec: Any, model: nn.Module) -> SeedModel:
    entries = [Entry("b1", _seq_text(list(model.b1.children())), var=True),
               Entry("b2", _seq_text(list(model.b2.children())), var=True)]
    for i in range(3):
        stage = getattr(model, f"b{i + 3}")
        parts = []
        for m in stage.children():
            if type(m).__name__ == "Inception":
                c2, c3 = (m.p2_1.out_channels, m.p2_2.out_channels), \
                    (m.p3_1.out_channels, m.p3_2.out_channels)
                parts.append(f"Inception({m.p1_1.in_channels}, {m.p1_1.out_channels}, {c2}, "
                             f"{c3}, {m.p4_2.out_channels})")
            else:
                parts.append(constructor_code(m))
        body = "".join(f"{_I}{p},\n" for p in parts)
        entries.append(Entry(f"b{i + 3}", "nn.Sequential(\n" + body + ")", var=True))
    entries.append(Entry("fc", constructor_code(model.fc)))
    return SeedModel("GoogLeNet", _INCEPTION, tuple(entries))


# ------------------------------------------------------------------------------ DenseNet
def _conv_block_fn(cfg: Any) -> str:
    b = _bias(cfg.conv_bias)
    if not cfg.bottleneck:
        return f'''def conv_block(in_channels, out_channels):
    blk = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1{b}))
    return blk'''
    return f'''def conv_block(in_channels, out_channels):
    """DenseNet-BC: a 1×1 conv to 4·k channels (the bottleneck) before the 3×3 conv."""
    blk = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                        nn.Conv2d(in_channels, 4 * out_channels, kernel_size=1{b}),
                        nn.BatchNorm2d(4 * out_channels), nn.ReLU(),
                        nn.Conv2d(4 * out_channels, out_channels, kernel_size=3, padding=1{b}))
    return blk'''


_DENSE_BLOCK = '''class DenseBlock(nn.Module):
    def __init__(self, num_convs, in_channels, out_channels):
        super().__init__()
        net = []
        for i in range(num_convs):
            in_c = in_channels + i * out_channels
            net.append(conv_block(in_c, out_channels))
        self.net = nn.ModuleList(net)
        self.out_channels = in_channels + num_convs * out_channels  # output channels

    def forward(self, X):
        for blk in self.net:
            Y = blk(X)
            X = torch.cat((X, Y), dim=1)  # concatenate input and output on the channel axis
        return X'''


def _transition_fn(cfg: Any) -> str:
    return f'''def transition_block(in_channels, out_channels):
    blk = nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, out_channels, kernel_size=1{_bias(cfg.conv_bias)}),
        nn.AvgPool2d(kernel_size=2, stride=2))
    return blk'''


def _densenet(spec: Any, model: nn.Module) -> SeedModel:
    cfg = spec.config
    stem = [Entry(n, constructor_code(getattr(model, n))) for n in ("conv", "bn", "relu", "pool")]
    if cfg.compression == 0.5:
        nxt, note = "num_channels // 2", "halves the channels"
    else:
        nxt, note = f"max(1, int(num_channels * {cfg.compression!r}))", \
            f"keeps ⌊C·{cfg.compression!r}⌋ channels"
    loop = Loop(
        setup=(f"num_channels, growth_rate = {cfg.init_channels}, {cfg.growth_rate}",
               f"num_convs_in_dense_blocks = {list(cfg.blocks)}"),
        lines=("for i, num_convs in enumerate(num_convs_in_dense_blocks):",
               f"{_I}DB = DenseBlock(num_convs, num_channels, growth_rate)",
               f'{_I}ADD(f"dense_block_{{i}}", DB)',
               f"{_I}num_channels = DB.out_channels  # the dense block's output channels",
               f"{_I}# between dense blocks, a transition layer {note}",
               f"{_I}if i != len(num_convs_in_dense_blocks) - 1:",
               f'{_I * 2}ADD(f"transition_{{i}}", transition_block(num_channels, {nxt}))',
               f"{_I * 2}num_channels = {nxt}"))
    n_cls = model.fc.linear.out_features
    tail = [Entry("bn_final", "nn.BatchNorm2d(num_channels)"), Entry("relu_final", "nn.ReLU()"),
            Entry("global_avg_pool", "nn.AdaptiveAvgPool2d((1, 1))"),
            Entry("fc", f"nn.Sequential(nn.Flatten(), nn.Linear(num_channels, {n_cls}))")]
    helpers = "\n\n\n".join((_conv_block_fn(cfg), _DENSE_BLOCK, _transition_fn(cfg)))
    return SeedModel("DenseNet", helpers, (*stem, loop, *tail))


_WRITERS: dict[str, Callable[[Any, nn.Module], SeedModel]] = {
    "resnet": _resnet, "googlenet": _googlenet, "densenet": _densenet}


# ------------------------------------------------------------------------------ the four styles
def _indent(expr: str, pad: str) -> str:
    """Continuation lines of a multi-line expression, shifted right by ``pad``."""
    first, *rest = expr.split("\n")
    return "\n".join([first] + [pad + ln if ln else ln for ln in rest])


def _add(lines: tuple[str, ...], how: Callable[[str, str], str], pad: str = "") -> list[str]:
    """The loop's lines with each ``ADD(name, value)`` written as ``how(name, value)``."""
    out = []
    for ln in lines:
        stripped = ln.lstrip()
        if stripped.startswith("ADD("):
            name, value = stripped[4:-1].split(", ", 1)
            ln = ln[: len(ln) - len(stripped)] + how(name, value)
        out.append(pad + ln)
    return out


def _listed(items: list[str], pad: str = _I) -> str:
    return "".join(f"{pad}{_indent(it, pad)},\n" for it in items)


def _module_level(sm: SeedModel, style: str) -> list[str]:
    """``net`` built at module level, in the sequential, add_module or OrderedDict style."""
    lines: list[str] = []
    for e in sm.items:
        if isinstance(e, Entry) and e.var:
            lines += [f"{e.name} = {e.expr}", ""]

    def item(e: Entry) -> str:
        ref = e.name if e.var else e.expr
        return ref if style == "sequential" else f'("{e.name}", {ref})'

    if style == "add_module":
        lines.append("net = nn.Sequential()")
        for e in sm.items:
            if isinstance(e, Entry):
                lines.append(f'net.add_module("{e.name}", {e.name if e.var else e.expr})')
            else:
                lines += list(e.setup) + _add(e.lines, lambda n, v: f"net.add_module({n}, {v})")
        return lines
    close = ")" if style == "sequential" else "]))"
    opener = "nn.Sequential(" if style == "sequential" else "nn.Sequential(OrderedDict(["
    loops = [i for i, e in enumerate(sm.items) if isinstance(e, Loop)]
    if not loops:
        return lines + [f"net = {opener}\n" + _listed([item(e) for e in sm.items]) + close]
    k = loops[0]
    loop = sm.items[k]
    assert isinstance(loop, Loop)
    head = [item(e) for e in sm.items[:k] if isinstance(e, Entry)]
    tail = [item(e) for e in sm.items[k + 1:] if isinstance(e, Entry)]
    push = (lambda n, v: f"layers.append({v})") if style == "sequential" else \
        (lambda n, v: f"layers.append(({n}, {v}))")
    lines += ["layers = [\n" + _listed(head) + "]"] + list(loop.setup) + _add(loop.lines, push)
    lines.append("layers += [\n" + _listed(tail) + "]")
    lines.append("net = nn.Sequential(*layers)" if style == "sequential"
                 else "net = nn.Sequential(OrderedDict(layers))")
    return lines


def _class_level(sm: SeedModel) -> list[str]:
    """``class ResNet(nn.Module)``: the children in ``__init__``, the data flow in ``forward``."""
    i2 = _I * 2
    params = f", {sm.class_params}" if sm.class_params else ""
    lines = [f"class {sm.title}(nn.Module):", f"{_I}def __init__(self{params}):",
             f"{i2}super().__init__()"] + [i2 + s for s in sm.class_setup]
    for e in sm.items:
        if isinstance(e, Entry):
            lines.append(f"{i2}self.{e.name} = {_indent(e.cls_expr or e.expr, i2)}")
        else:
            lines += [i2 + s for s in e.setup]
            lines += _add(e.lines, lambda n, v: f"self.add_module({n}, {v})", i2)
    if sm.class_helpers:
        lines += ["", sm.class_helpers]
    lines += ["", f"{_I}def forward(self, X):"]
    if any(isinstance(e, Loop) for e in sm.items):
        lines += [f"{i2}for layer in self.children():  # in the order they were added",
                  f"{i2}{_I}X = layer(X)"]
    else:
        lines += [f"{i2}X = self.{e.name}(X)" for e in sm.items if isinstance(e, Entry)]
    lines += [f"{i2}return X", "", "", f"net = {sm.title}({sm.class_args})"]
    return lines


def generate_seed(spec: Any, style: str = "class", model: nn.Module | None = None,
                  lang: str | None = None) -> str:
    """``spec`` written the way its seed page writes it, in ``style`` (one of seed 003's four),
    its comments in ``lang`` (default: the current language).

    Raises :class:`CodegenError` for a family the seeds do not write this way."""
    from vizapp import i18n

    with i18n.using(lang or i18n.get_lang()):
        return _generate_seed(spec, style, model)


def _generate_seed(spec: Any, style: str, model: nn.Module | None) -> str:
    if style not in STYLES:
        raise CodegenError(msg("unknown style '{style}'; styles: {names}", style=style,
                               names=", ".join(STYLES)))
    if not supports(spec):
        raise CodegenError(msg("the seed pages write only {names} with their own building blocks; "
                               "{label} has no seed-shaped code", names=", ".join(seed_families()),
                               label=spec.label))
    if model is None:
        from vizapp.analysis import build_for_analysis
        model, _ = build_for_analysis(spec)  # on meta: the same architecture, no memory
    sm = _WRITERS[spec.family](spec, model)
    cfg = spec.config
    n, (c, h, w) = cfg.batch, cfg.input_shape
    n_params = sum(p.numel() for p in model.parameters())
    first = '"""' + str(msg("{label} — written as the seed page writes it ({style} style), "
                            "generated by vizapp.", label=spec.label, style=STYLE_TITLES[style]))
    header = header_lines(first, [
        f"Input {n}×{c}×{h}×{w}; {n_params:,} parameters; fresh weights (not trained).",
        "The blocks are classes in every style: nn.Sequential cannot add a shortcut or",
        "concatenate branches, so only the top-level chain changes with the style."],
        N_("Input {shape}; {n} parameters; fresh weights (not trained). The blocks are classes "
           "in every style: nn.Sequential cannot add a shortcut or concatenate branches, so only "
           "the top-level chain changes with the style."), shape=f"{n}×{c}×{h}×{w}",
        n=f"{n_params:,}")
    header += ["", "import torch", "from torch import nn", "from torch.nn import functional as F"]
    if style == "ordereddict":
        header.insert(header.index("import torch"), "from collections import OrderedDict")
    helpers = [sm.helpers] + ([sm.seq_helpers] if sm.seq_helpers and style != "class" else [])
    body = _class_level(sm) if style == "class" else _module_level(sm, style)
    if style == "sequential":  # seed 002's loop: the class name of each layer
        loop = ["for layer in net:", f"{_I}X = layer(X)",
                f"{_I}print(layer.__class__.__name__, 'output shape:\\t', X.shape)"]
    else:  # seed 000's loop, with the class name too
        loop = ["for name, layer in net.named_children():", f"{_I}X = layer(X)",
                f"{_I}print(name, layer.__class__.__name__, 'output shape:\\t', X.shape)"]
    main = ['if __name__ == "__main__":', f"{_I}X = torch.rand(size=({n}, {c}, {h}, {w}))"]
    main += [_I + ln for ln in loop]
    main.append(f"{_I}print(sum(p.numel() for p in net.parameters()), 'parameters')")
    parts = header + ["", ""] + ["\n\n\n".join(helpers)] + ["", ""] + body + ["", ""] + main
    return localize("\n".join(parts) + "\n")
