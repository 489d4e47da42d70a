"""Feature maps: what a chosen layer outputs for an input, as pictures.

The Shapes page says ``conv1 → (1, 6, 28, 28)``; this module returns those 6 planes of 28×28
numbers so they can be drawn as a heatmap grid. Inputs are generated in code (a drawn
digit-like stroke image, a checkerboard, stripes, a gradient, rings, noise) or come from an
uploaded image array. The model is deep-copied and run in eval mode; the forward pass stops
at the chosen layer. Weights are whatever the model has (random initialisation in vizapp:
no downloads), so the maps show *shapes and receptive fields*, not learnt features.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from vizapp.i18n import msg

INPUT_KINDS = ("digit", "checkerboard", "stripes", "gradient", "rings", "noise")

# digits as polylines in a unit box (x right, y down), drawn with a round pen
_DIGITS: dict[int, tuple[tuple[tuple[float, float], ...], ...]] = {
    0: (((0.5, 0.12), (0.75, 0.25), (0.8, 0.5), (0.75, 0.75), (0.5, 0.88), (0.25, 0.75),
         (0.2, 0.5), (0.25, 0.25), (0.5, 0.12)),),
    1: (((0.35, 0.28), (0.55, 0.12), (0.55, 0.88)), ((0.35, 0.88), (0.72, 0.88))),
    2: (((0.25, 0.28), (0.4, 0.14), (0.62, 0.14), (0.75, 0.3), (0.7, 0.48), (0.25, 0.88),
         (0.78, 0.88)),),
    3: (((0.25, 0.18), (0.5, 0.12), (0.72, 0.22), (0.7, 0.4), (0.48, 0.5), (0.74, 0.62),
         (0.74, 0.8), (0.5, 0.9), (0.24, 0.82)),),
    4: (((0.65, 0.88), (0.65, 0.12), (0.2, 0.66), (0.82, 0.66)),),
    5: (((0.75, 0.14), (0.3, 0.14), (0.27, 0.48), (0.55, 0.44), (0.75, 0.58), (0.72, 0.8),
         (0.5, 0.9), (0.25, 0.82)),),
    6: (((0.7, 0.14), (0.42, 0.28), (0.25, 0.6), (0.35, 0.86), (0.62, 0.86), (0.74, 0.66),
         (0.6, 0.5), (0.3, 0.58)),),
    7: (((0.22, 0.14), (0.78, 0.14), (0.45, 0.88)), ((0.38, 0.5), (0.68, 0.5))),
    8: (((0.5, 0.5), (0.28, 0.36), (0.32, 0.16), (0.5, 0.12), (0.68, 0.16), (0.72, 0.36),
         (0.5, 0.5), (0.25, 0.66), (0.3, 0.86), (0.5, 0.9), (0.7, 0.86), (0.75, 0.66),
         (0.5, 0.5)),),
    9: (((0.72, 0.4), (0.5, 0.5), (0.3, 0.4), (0.3, 0.2), (0.5, 0.12), (0.7, 0.2), (0.72, 0.4),
         (0.65, 0.88)),),
}


class FeatureError(ValueError):
    """A feature-map request that cannot be met; the message names cause and fix."""


@dataclass(frozen=True)
class FeatureMaps:
    """The activation of one layer for one input: the first ``len(channels)`` planes.

    ``maps`` is ``(K, H, W)`` float32 (a Linear output of F units is one 1×F plane; a 3-D
    ``(N, C, L)`` output gives C planes of 1×L). ``image`` is the model input as ``(H, W)`` or
    ``(H, W, 3)`` in [0, 1] for display."""

    layer: str
    type: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    channels: tuple[int, ...]  # indexes of the planes shown
    total_channels: int
    ch_min: tuple[float, ...]
    ch_max: tuple[float, ...]
    ch_mean: tuple[float, ...]
    maps: np.ndarray = field(compare=False, repr=False)
    image: np.ndarray = field(compare=False, repr=False)
    note: str = ""


# ----------------------------------------------------------------------------- inputs
def _resize(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Bilinear resize of ``(H, W)`` or ``(H, W, C)`` float data (via torch)."""
    t = torch.as_tensor(np.ascontiguousarray(img), dtype=torch.float32)
    if t.dim() == 2:
        t = t[None, None]
    else:
        t = t.permute(2, 0, 1)[None]
    if t.shape[-2:] != (h, w):
        t = torch.nn.functional.interpolate(t, size=(h, w), mode="bilinear", align_corners=False,
                                            antialias=t.shape[-2] > h or t.shape[-1] > w)
    t = t[0]
    return (t[0] if t.shape[0] == 1 else t.permute(1, 2, 0)).numpy()


def draw_digit(digit: int, h: int = 28, w: int = 28, thickness: float = 0.07) -> np.ndarray:
    """A digit-like stroke image ``(h, w)`` in [0, 1] (white strokes on black, like MNIST)."""
    strokes = _DIGITS[int(digit) % 10]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    px, py = (xs + 0.5) / w, (ys + 0.5) / h
    dist = np.full((h, w), np.inf)
    for line in strokes:
        for (x0, y0), (x1, y1) in zip(line[:-1], line[1:]):
            dx, dy = x1 - x0, y1 - y0
            t = np.clip(((px - x0) * dx + (py - y0) * dy) / (dx * dx + dy * dy + 1e-12), 0, 1)
            dist = np.minimum(dist, np.hypot(px - (x0 + t * dx), py - (y0 + t * dy)))
    soft = 1.5 / max(min(h, w), 1)  # about one pixel of anti-aliasing
    return np.clip((thickness + soft - dist) / (2 * soft), 0.0, 1.0).astype(np.float32)


def pattern(kind: str, h: int, w: int, *, digit: int = 7, seed: int = 0) -> np.ndarray:
    """A synthetic grey image ``(h, w)`` in [0, 1]."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    if kind == "digit":
        return draw_digit(digit, h, w)
    if kind == "checkerboard":
        cell = max(1, min(h, w) // 8)
        return (((ys // cell) + (xs // cell)) % 2).astype(np.float32)
    if kind == "stripes":  # diagonal stripes: edges in two orientations at once
        period = max(4.0, min(h, w) / 6)
        return (0.5 + 0.5 * np.sin(2 * math.pi * (xs + ys) / period)).astype(np.float32)
    if kind == "gradient":
        return (xs / max(w - 1, 1) * 0.5 + ys / max(h - 1, 1) * 0.5).astype(np.float32)
    if kind == "rings":
        r = np.hypot(ys - (h - 1) / 2, xs - (w - 1) / 2)
        period = max(4.0, min(h, w) / 5)
        return (0.5 + 0.5 * np.cos(2 * math.pi * r / period)).astype(np.float32)
    if kind == "noise":
        return np.random.default_rng(seed).random((h, w)).astype(np.float32)
    raise FeatureError(msg("unknown input kind '{kind}'; choose one of {names}", kind=kind,
                           names=", ".join(INPUT_KINDS)))


MAX_UPLOAD_PIXELS = 4096 * 4096  # far below PIL's bomb limit (~89 M): 64 MiB decoded as RGBA
DECODE_SIDE = 1024  # uploads are downscaled to at most this side before use


def decode_image(data: bytes, max_pixels: int = MAX_UPLOAD_PIXELS,
                 side: int = DECODE_SIDE) -> np.ndarray:
    """An uploaded PNG/JPEG → an ``(H, W, 3)`` uint8 array no larger than ``side`` per side.

    The size is read from the header before any pixel is decoded: an image above
    ``max_pixels`` is refused (a small compressed file can hold billions of pixels); JPEGs
    are decoded at a reduced scale. Raises :class:`FeatureError` with a one-line cause."""
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # lazy: reads the header only
            w, h = img.size
            if w * h > max_pixels:
                raise FeatureError(msg("the image is {w}×{h} = {pixels:,} pixels, more than the "
                                       "{max_pixels:,} this page accepts; downscale it first", w=w,
                                       h=h, pixels=w * h, max_pixels=max_pixels))
            img.draft("RGB", (side, side))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            img.thumbnail((side, side))
            return np.asarray(img.convert("RGB"))
    except FeatureError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise FeatureError(msg("the image has more pixels than the {max_pixels:,} this page "
                               "accepts; downscale it first", max_pixels=max_pixels)) from None
    except UnidentifiedImageError:
        raise FeatureError(msg("the file is not a PNG or JPEG image this page can read ({n:,} "
                               "bytes)", n=len(data))) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise FeatureError(msg("the image could not be decoded ({type}: {error}); it may be "
                               "truncated or damaged", type=type(exc).__name__,
                               error=str(exc)[:80])) from None


def image_to_input(img: np.ndarray, input_shape: Sequence[int]) -> torch.Tensor:
    """An image array (``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``; uint8 or float in [0, 1])
    → a ``(1, C, H, W)`` float tensor sized for the model: resized, converted to grey or RGB
    by C, scaled to [0, 1] and standardised (zero mean, unit std, like a normalised dataset)."""
    c, h, w = (int(d) for d in input_shape)
    a = np.asarray(img)
    if a.ndim not in (2, 3) or a.size == 0:
        raise FeatureError(msg("expected an image array (H, W) or (H, W, 3), got shape {shape}",
                               shape=a.shape))
    a = a.astype(np.float32)
    if a.max(initial=0) > 1.0:
        a = a / 255.0
    if a.ndim == 3:
        a = a[..., :3] if a.shape[2] >= 3 else a[..., :1].repeat(3, axis=2)
    a = _resize(a, h, w)
    if c == 1:
        grey = a if a.ndim == 2 else a @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        planes = grey[None]
    else:
        rgb = a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2)
        planes = np.concatenate([rgb.transpose(2, 0, 1)] * math.ceil(c / 3))[:c]
    t = torch.from_numpy(np.ascontiguousarray(planes))[None].float()
    std = float(t.std())
    return (t - t.mean()) / (std if std > 1e-6 else 1.0)


def make_input(kind: str, input_shape: Sequence[int], *, digit: int = 7,
               seed: int = 0) -> torch.Tensor:
    """A synthetic ``(1, C, H, W)`` input of the given kind (see :data:`INPUT_KINDS`)."""
    _, h, w = (int(d) for d in input_shape)
    return image_to_input(pattern(kind, h, w, digit=digit, seed=seed), input_shape)


DISPLAY_PIXELS = 256 * 256  # planes and input images are averaged down to this for display


def _shrink(planes: torch.Tensor, pixels: int = DISPLAY_PIXELS) -> torch.Tensor:
    """``(K, H, W)`` averaged down (aspect kept) to at most ``pixels`` per plane: the cached
    result and the figure stay small whatever the input size."""
    h, w = planes.shape[-2:]
    if h * w <= pixels:
        return planes
    f = math.sqrt(h * w / pixels)
    size = (max(1, int(h / f)), max(1, int(w / f)))
    return torch.nn.functional.adaptive_avg_pool2d(planes[None], size)[0]


def display_image(x: torch.Tensor) -> np.ndarray:
    """The first sample of a ``(N, C, H, W)`` input as ``(H, W)`` or ``(H, W, 3)`` in [0, 1]
    (averaged down to at most :data:`DISPLAY_PIXELS`)."""
    t = x[0].detach().float().cpu()
    t = _shrink(t[:3] if t.shape[0] >= 3 else t[:1])
    t = (t - t.min()) / (t.max() - t.min() + 1e-12)
    return t[0].numpy() if t.shape[0] == 1 else t.permute(1, 2, 0).numpy()


# ----------------------------------------------------------------------------- layers
def feature_layers(model: nn.Module) -> list[tuple[str, str]]:
    """``(name, type)`` of every sub-module (blocks and leaves), in definition order."""
    return [(n, type(m).__name__) for n, m in model.named_modules() if n]


def default_layer(layers: list[tuple[str, str]]) -> str:
    """The layer shown first: the first convolution, else the first sub-module."""
    for name, typ in layers:
        if typ.startswith("Conv"):
            return name
    return layers[0][0]


class _Stop(Exception):
    pass


def feature_maps(model: nn.Module, layer: str, x: torch.Tensor, *, max_channels: int = 16
                 ) -> FeatureMaps:
    """The output of ``layer`` for ``x`` (eval mode, no grad), first ``max_channels`` planes
    of the first sample. The caller's model is not touched (a deep copy runs)."""
    names = dict(feature_layers(model))
    _check_layer(names, layer)
    out = _layer_output(model, layer, x)
    y, note = _planes(out)
    total = int(y.shape[0])
    k = min(int(max_channels), total)
    full = y[:k]
    small = _shrink(full)
    if small.shape != full.shape:
        note = (f"{full.shape[1]}×{full.shape[2]} planes shown averaged down to "
                f"{small.shape[1]}×{small.shape[2]} (the ranges are from the full planes)")
    return FeatureMaps(
        layer=layer, type=names[layer], input_shape=tuple(x.shape),
        output_shape=tuple(out.shape), channels=tuple(range(k)), total_channels=total,
        ch_min=tuple(float(m.min()) for m in full), ch_max=tuple(float(m.max()) for m in full),
        ch_mean=tuple(float(m.mean()) for m in full),
        maps=small.numpy().astype(np.float32), image=display_image(x), note=note)


def _check_layer(names: dict[str, str], layer: str) -> None:
    """FeatureError naming close names when the model has no module ``layer``."""
    if layer not in names:
        close = [n for n in names if layer in n][:8]
        if close:
            raise FeatureError(msg("no layer named '{layer}'. Close: {names}.", layer=layer,
                                   names=", ".join(close)))
        raise FeatureError(msg("no layer named '{layer}'.", layer=layer))


def _layer_output(model: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """What ``layer`` outputs for ``x``: a forward pass of a deep copy in eval mode, stopped
    by a hook as soon as the layer has run (its first tensor for a tuple output)."""
    work = copy.deepcopy(model).eval()
    target = dict(work.named_modules())[layer]
    got: dict[str, Any] = {}

    def hook(_m: nn.Module, _args: Any, out: Any) -> None:
        got["out"] = out
        raise _Stop

    device = next((p.device for p in work.parameters()), torch.device("cpu"))
    h = target.register_forward_hook(hook)
    try:
        with torch.no_grad():
            work(x.to(device))
    except _Stop:
        pass
    except Exception as exc:  # the input does not fit the model
        raise FeatureError(msg("the model cannot run input {shape}: {exc}. Fix: use the input "
                               "size the model expects.", shape=tuple(x.shape),
                               exc=str(exc))) from None
    finally:
        h.remove()
    if "out" not in got:
        raise FeatureError(msg("layer '{layer}' did not run in the forward pass", layer=layer))
    out = got["out"]
    if isinstance(out, (tuple, list)):  # e.g. GoogLeNet aux outputs
        out = next((o for o in out if isinstance(o, torch.Tensor)), None)
    if not isinstance(out, torch.Tensor):
        raise FeatureError(msg("layer '{layer}' returns {type}, not a tensor", layer=layer,
                               type=type(out).__name__))
    return out


def _planes(out: torch.Tensor) -> tuple[torch.Tensor, str]:
    """The first sample of ``out`` as (C, H, W) planes on the CPU, and a note on how a
    non-image output is drawn."""
    y = out.detach().float().cpu()[0]
    note = ""
    if y.dim() == 0:
        y = y.reshape(1, 1, 1)
    elif y.dim() == 1:  # Linear: one 1×F strip
        y = y.reshape(1, 1, -1)
        note = f"{out.shape[-1]} units of a flat vector, drawn as one 1×{out.shape[-1]} strip"
    elif y.dim() == 2:
        y = y.unsqueeze(1)
    elif y.dim() > 3:
        y = y.reshape(y.shape[0], y.shape[1], -1)
    return y, note


# ----------------------------------------------------------------------------- filters
@dataclass(frozen=True)
class Filters:
    """The first convolution's kernels as small images: ``images`` is ``(K, 1 | 3, kh, kw)``
    float32 — the kernels themselves for 1 or 3 input channels, else their mean over the
    input channels (``averaged`` says so)."""

    layer: str  # the weight's state_dict key, e.g. "conv1.weight"
    shape: tuple[int, ...]  # the full weight's shape
    images: np.ndarray = field(compare=False, repr=False)
    averaged: bool = False


def first_filters(state_dict: dict[str, torch.Tensor], max_filters: int = 48
                  ) -> Filters | None:
    """The first 4-D ``*weight`` of ``state_dict`` (the first convolution in definition
    order), first ``max_filters`` kernels; None without a convolution."""
    first = next(((k, v) for k, v in state_dict.items()
                  if k.endswith("weight") and v.dim() == 4), None)
    if first is None:
        return None
    name, w = first
    w = w.detach()[:max_filters].float().cpu()
    averaged = w.shape[1] not in (1, 3)
    if averaged:
        w = w.mean(1, keepdim=True)
    return Filters(name, tuple(first[1].shape), w.numpy().astype(np.float32), averaged)
