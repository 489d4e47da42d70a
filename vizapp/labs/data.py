"""Training data, offline: scikit-learn's bundled handwritten digits, a generated (seeded)
shapes set, a local torchvision folder (MNIST, FashionMNIST, CIFAR10 with ``download=False``)
and a zip of images in class folders. Every source is resized to the model's C×H×W, split
into train/validation by a fixed seed, and standardised with the training split's mean/std.

Nothing is ever downloaded. Sizes are capped (:data:`MAX_IMAGES`, :data:`MAX_ZIP_BYTES` …)
so one request cannot exhaust a shared classroom server. Errors are :class:`DataError` with a
one-line cause and fix."""

from __future__ import annotations

import io
import math
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vizapp.i18n import _, msg

MAX_IMAGES = 20_000  # train + validation images kept from any source
MAX_TENSOR_BYTES = 400 * 2**20  # all images as float32 on the host
MAX_ZIP_BYTES = 50 * 2**20
# a zip's size says little about what it unpacks to (1 GiB of zeros deflates to 1 MiB): each
# member is read through a capped stream, one at a time, and all of them together are capped
MAX_MEMBER_BYTES = 16 * 2**20  # one image file, unpacked
MAX_UNZIPPED_BYTES = 512 * 2**20  # every image file of one zip, unpacked
MAX_IMAGE_PIXELS = 1024 * 1024  # per image inside a zip (decompression bombs)
MIN_SIDE = 8  # the smallest H and W a data set is resized to
VAL_FRACTION = 0.2
SHAPES = ("circle", "square", "triangle", "cross", "ring", "diamond", "bar", "x")
TORCHVISION = ("MNIST", "FashionMNIST", "CIFAR10")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


class DataError(ValueError):
    """Data that cannot be used; the message names the cause and the fix."""


@dataclass(frozen=True)
class DataChoice:
    """What to load (hashable: a cache key). ``kind``: digits | shapes | folder | zip."""

    kind: str = "digits"
    path: str = ""  # folder or zip file (folder, zip)
    n: int = 2000  # images to generate (shapes)
    seed: int = 0  # split (and generation) seed
    noise: float = 0.15  # shapes: pixel noise std

    @staticmethod
    def parse(text: str, seed: int = 0) -> "DataChoice":
        """CLI form: ``digits``, ``shapes``, ``shapes:N``, or a path (folder or .zip)."""
        t = text.strip()
        if t == "digits":
            return DataChoice("digits", seed=seed)
        if t == "shapes" or t.startswith("shapes:"):
            n = t.partition(":")[2]
            if n and not n.isdigit():
                raise DataError(msg("--data shapes:N takes a number of images, got '{text}'",
                                    text=text))
            return DataChoice("shapes", n=int(n or 2000), seed=seed)
        p = Path(t).expanduser()
        if p.is_file() and p.suffix.lower() == ".zip":
            return DataChoice("zip", path=str(p), seed=seed)
        if p.is_dir():
            return DataChoice("folder", path=str(p), seed=seed)
        raise DataError(msg("--data '{text}' is neither digits, shapes nor an existing folder or "
                            ".zip file: give one of those", text=text))


@dataclass(frozen=True, eq=False)
class DataSet:
    """Images as float32 N×C×H×W (standardised), labels as int64, classes by name."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    classes: tuple[str, ...]
    mean: float = 0.0  # of the training split before standardising
    std: float = 1.0
    notes: tuple[str, ...] = field(default=())

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.x_train.shape[1:])  # type: ignore[return-value]

    def summary(self) -> str:
        c, h, w = self.input_shape
        return _("{name}: {train} training + {val} validation images of {shape}, {classes} "
                 "classes").format(name=self.name, train=len(self.y_train),
                                   val=len(self.y_val), shape=f"{c}×{h}×{w}",
                                   classes=len(self.classes))


# ----------------------------------------------------------------------------- checks
def check_shape(input_shape: Sequence[int], num_classes: int, n_classes: int, what: str,
                n: int = 100) -> None:
    """Refuse inputs too small to resize to, ``n`` images over the memory cap, and fewer
    model outputs than classes — each with the fix."""
    c, h, w = (int(d) for d in input_shape)
    if h < MIN_SIDE or w < MIN_SIDE:
        raise DataError(msg("the input {c}×{h}×{w} is too small to resize {what} to: set height "
                            "and width to at least {min_side}", c=c, h=h, w=w, what=what,
                            min_side=MIN_SIDE))
    if n * c * h * w * 4 > MAX_TENSOR_BYTES:
        side = int(math.sqrt(MAX_TENSOR_BYTES / (4 * c * n)))
        raise DataError(msg("{n:,} images of {c}×{h}×{w} from {what} take {gib:.1f} GiB, over the "
                            "{cap} MiB cap: set height and width to at most {side} (e.g. 32, as "
                            "CIFAR)", n=n, c=c, h=h, w=w, what=what, gib=n * c * h * w * 4 / 2**30,
                            cap=MAX_TENSOR_BYTES // 2**20, side=side))
    if num_classes < n_classes:
        raise DataError(msg("the model has {num_classes} outputs but {what} has {n_classes} "
                            "classes: set num_classes to {n_classes} or more",
                            num_classes=num_classes, what=what, n_classes=n_classes))


def fit_channels(x: torch.Tensor, c: int, what: str) -> torch.Tensor:
    """N×c0×H×W → N×c×H×W: grey is repeated, colour averaged to grey when c is 1."""
    c0 = x.shape[1]
    if c0 == c:
        return x
    if c0 == 1:
        return x.expand(-1, c, -1, -1).contiguous()
    if c == 1:
        return x.mean(1, keepdim=True)
    raise DataError(msg("{what} has {c0} colour channels and the model takes {c}: set in_channels "
                        "to 1 or {c0}", what=what, c0=c0, c=c))


def resize(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if tuple(x.shape[-2:]) == (h, w):
        return x
    cap = MAX_TENSOR_BYTES // max(1, x.shape[1] * h * w * 4)
    if x.shape[0] > cap:
        raise DataError(msg("{n} images of {h}×{w} exceed the memory cap: use fewer images or a "
                            "smaller input", n=x.shape[0], h=h, w=w))
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)


def split(name: str, x: torch.Tensor, y: torch.Tensor, classes: Sequence[str], seed: int,
          notes: tuple[str, ...] = ()) -> DataSet:
    """A fixed, seeded train/validation split; standardised by the training split's stats."""
    n = len(y)
    if n < 10:
        raise DataError(msg("{name} has only {n} images: give at least 10", name=name, n=n))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    n_val = max(1, int(round(n * VAL_FRACTION)))
    vi, ti = perm[:n_val], perm[n_val:]
    mean, std = float(x[ti].mean()), float(x[ti].std()) or 1.0
    xs = (x - mean) / std
    return DataSet(name, xs[ti].contiguous(), y[ti].contiguous(), xs[vi].contiguous(),
                   y[vi].contiguous(), tuple(classes), mean, std, notes)


def _cap(x: torch.Tensor, y: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    if len(y) <= MAX_IMAGES:
        return x, y
    keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))[:MAX_IMAGES]
    return x[keep], y[keep]


# ----------------------------------------------------------------------------- sources
def digits(input_shape: Sequence[int], num_classes: int, seed: int = 0) -> DataSet:
    """scikit-learn's 1,797 real 8×8 handwritten digits (0–16 grey levels), resized."""
    from sklearn.datasets import load_digits

    c, h, w = (int(d) for d in input_shape)
    check_shape(input_shape, num_classes, 10, "the digits (8×8)", 1797)
    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)
    x = fit_channels(resize(x, h, w), c, "digits")
    y = torch.from_numpy(d.target.astype(np.int64))
    return split("digits", x, y, [str(i) for i in range(10)], seed)


def _shape_masks(kind: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Shape ``SHAPES[kind]`` in unit coordinates (u right, v up; radius 1)."""
    r = np.sqrt(u * u + v * v)
    au, av = np.abs(u), np.abs(v)
    name = SHAPES[kind]
    if name == "circle":
        return r <= 1.0
    if name == "square":
        return np.maximum(au, av) <= 0.8
    if name == "triangle":
        return (v >= -0.6) & (v <= 0.9 - 1.7 * au)
    if name == "cross":
        return ((au < 0.25) & (av < 0.95)) | ((av < 0.25) & (au < 0.95))
    if name == "ring":
        return (r >= 0.6) & (r <= 1.0)
    if name == "diamond":
        return au + av <= 1.05
    if name == "bar":
        return (au < 0.95) & (av < 0.3)
    return ((np.abs(u - v) < 0.35) | (np.abs(u + v) < 0.35)) & (np.maximum(au, av) < 0.85)


def shapes(input_shape: Sequence[int], num_classes: int, n: int = 2000, seed: int = 0,
           noise: float = 0.15) -> DataSet:
    """``n`` generated images of min(num_classes, 8) shapes at random position, size,
    rotation (±20°) and colour, plus Gaussian pixel noise; deterministic for a seed."""
    c, h, w = (int(d) for d in input_shape)
    k = min(int(num_classes), len(SHAPES))
    if k < 2:
        raise DataError(msg("shapes needs at least 2 classes: set num_classes to 2 or more"))
    n = int(n)
    if not 10 <= n <= MAX_IMAGES:
        raise DataError(msg("shapes: {n} images is outside the cap: use 10 to {max_images}", n=n,
                            max_images=MAX_IMAGES))
    check_shape(input_shape, num_classes, k, "shapes", n)
    rng = np.random.default_rng(int(seed))
    y = np.arange(n) % k
    rng.shuffle(y)
    cx, cy = rng.uniform(0.3, 0.7, n), rng.uniform(0.3, 0.7, n)
    rad = rng.uniform(0.15, 0.3, n)
    ang = rng.uniform(-math.pi / 9, math.pi / 9, n)
    colour = rng.uniform(0.5, 1.0, (n, c))
    gy, gx = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
    x = np.empty((n, c, h, w), np.float32)
    for lo in range(0, n, 512):  # bounded temporaries
        sl = slice(lo, min(n, lo + 512))
        dx = (gx[None] - cx[sl, None, None]) / rad[sl, None, None]
        dy = (cy[sl, None, None] - gy[None]) / rad[sl, None, None]
        ca, sa = np.cos(ang[sl])[:, None, None], np.sin(ang[sl])[:, None, None]
        u, v = ca * dx + sa * dy, -sa * dx + ca * dy
        mask = np.zeros(u.shape, bool)
        for kind in range(k):
            sel = y[sl] == kind
            mask[sel] = _shape_masks(kind, u[sel], v[sel])
        x[sl] = mask[:, None] * colour[sl, :, None, None]
    x += noise * rng.standard_normal(x.shape).astype(np.float32)
    return split("shapes", torch.from_numpy(x), torch.from_numpy(y.astype(np.int64)),
                 SHAPES[:k], seed)


def torchvision_folder(path: str, input_shape: Sequence[int], num_classes: int,
                       seed: int = 0) -> DataSet:
    """The training split of MNIST, FashionMNIST or CIFAR10 found under ``path`` (torchvision's
    own layout, ``download=False``), at most :data:`MAX_IMAGES` images, resized."""
    from torchvision import datasets

    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(msg("'{path}' is not a folder: give the folder that holds MNIST/, "
                            "FashionMNIST/ or cifar-10-batches-py/", path=path))
    candidates = [root, root.parent]
    for name in TORCHVISION:
        for r in candidates:
            try:
                ds = getattr(datasets, name)(str(r), train=True, download=False)
            except (RuntimeError, OSError, FileNotFoundError):
                continue
            return _from_torchvision(name, ds, input_shape, num_classes, seed)
    raise DataError(msg("no MNIST, FashionMNIST or CIFAR10 data under '{path}' (torchvision's "
                        "layout, nothing is downloaded): point at the folder that holds them",
                        path=path))


def _from_torchvision(name: str, ds, input_shape, num_classes, seed) -> DataSet:
    c, h, w = (int(d) for d in input_shape)
    data = torch.as_tensor(np.asarray(ds.data))
    targets = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    data, targets = _cap(data, targets, seed)
    x = data.float() / 255.0
    x = x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)
    classes = tuple(str(cl) for cl in ds.classes)
    check_shape(input_shape, num_classes, len(classes), name, len(targets))
    x = fit_channels(resize(x.contiguous(), h, w), c, name)
    return split(name, x, targets, classes, seed)


def class_zip(data: bytes | str, input_shape: Sequence[int], num_classes: int,
              seed: int = 0, name: str = "upload") -> DataSet:
    """A zip of ``CLASS/IMAGE`` entries (optionally under one top folder), read in memory
    (never extracted), capped in size, image count and pixels per image."""
    raw = Path(data).read_bytes() if isinstance(data, str) else data
    if len(raw) > MAX_ZIP_BYTES:
        raise DataError(msg("the zip is {mib:.1f} MiB: the limit is {cap} MiB; use fewer or "
                            "smaller images", mib=len(raw) / 2**20, cap=MAX_ZIP_BYTES // 2**20))
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        raise DataError(msg("{name} is not a zip file: upload a .zip of class folders (cat/1.png, "
                            "dog/7.png …)", name=name)) from None
    files = _zip_images(zf, name)
    classes = sorted({cls for cls, _ in files})
    if len(classes) < 2:
        raise DataError(msg("{name} has {n} class folder(s): put images in at least 2 folders, "
                            "one per class (cat/1.png, dog/7.png …)", name=name, n=len(classes)))
    check_shape(input_shape, num_classes, len(classes), name, len(files))
    c, h, w = (int(d) for d in input_shape)
    x = torch.empty((len(files), c, h, w))
    unpacked = 0
    for i, (_, member) in enumerate(files):
        data = _member_bytes(zf, zf.getinfo(member), name)
        unpacked += len(data)
        if unpacked > MAX_UNZIPPED_BYTES:  # the headers said less
            raise _too_big(name, unpacked)
        x[i] = _read_image(data, member, c, h, w)
    y = torch.tensor([classes.index(cls) for cls, _ in files], dtype=torch.int64)
    return split(name, x, y, classes, seed)


def _zip_images(zf: zipfile.ZipFile, name: str) -> list[tuple[str, str]]:
    """(class, member) for every image; DataError for anything else."""
    out = []
    names = [i.filename for i in zf.infolist() if not i.is_dir()
             and "__MACOSX" not in i.filename and not Path(i.filename).name.startswith(".")]
    parts = [Path(n).parts for n in names]
    tops = {p[0] for p in parts}
    strip = 1 if len(tops) == 1 and all(len(p) == 3 for p in parts) else 0
    for n, p in zip(names, parts):
        p = p[strip:]
        if len(p) != 2:
            raise DataError(msg("{name}: '{member}' is not CLASS/IMAGE: put every image in a "
                                "class folder (cat/1.png, dog/7.png …)", name=name, member=n))
        if Path(p[1]).suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(msg("{name}: '{member}' is not an image ({suffixes}): remove it from "
                                "the zip", name=name, member=n, suffixes=", ".join(IMAGE_SUFFIXES)))
        out.append((p[0], n))
    if len(out) > MAX_IMAGES:
        raise DataError(msg("{name} holds {n} images: the limit is {max_images}", name=name,
                            n=len(out), max_images=MAX_IMAGES))
    if len(out) < 10:
        raise DataError(msg("{name} holds {n} images: give at least 10", name=name, n=len(out)))
    declared = 0
    for _, member in out:  # what the headers declare, before anything is unpacked
        info = zf.getinfo(member)
        _check_member(info, name, info.file_size)
        declared += info.file_size
    if declared > MAX_UNZIPPED_BYTES:
        raise _too_big(name, declared)
    return sorted(out)


def _too_big(name: str, n: int) -> DataError:
    return DataError(msg("{name} unpacks to {mib:,.0f} MiB: the limit is {cap} MiB; use fewer or "
                         "smaller images", name=name, mib=n / 2**20,
                         cap=MAX_UNZIPPED_BYTES // 2**20))


def _check_member(info: zipfile.ZipInfo, name: str, size: int) -> None:
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        # bzip2 and lzma decompress a whole block per read, however large it unpacks to
        raise DataError(msg("{name}: '{member}' uses a compression vizapp does not read (method "
                            "{method}): make the zip with the standard (deflate) compression",
                            name=name, member=info.filename, method=info.compress_type))
    if size > MAX_MEMBER_BYTES:
        raise DataError(msg("{name}: '{member}' unpacks to {mib:,.1f} MiB: an image in the zip "
                            "may have at most {cap} MiB; re-save it smaller", name=name,
                            member=info.filename, mib=size / 2**20,
                            cap=MAX_MEMBER_BYTES // 2**20))


def _member_bytes(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    """One member's bytes, read through a stream that stops past :data:`MAX_MEMBER_BYTES`
    whatever its header declares (headers can lie)."""
    _check_member(info, name, info.file_size)
    data = bytearray()
    try:
        with zf.open(info) as f:
            while chunk := f.read(2**20):  # deflate unpacks at most this much per read
                data += chunk
                _check_member(info, name, len(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
            NotImplementedError) as exc:  # damaged, a size or CRC that lies, encrypted
        raise DataError(msg("{name}: '{member}' cannot be unpacked ({error}): make the zip "
                            "again", name=name, member=info.filename,
                            error=str(exc)[:120])) from None
    return bytes(data)


def _read_image(data: bytes, member: str, c: int, h: int, w: int) -> torch.Tensor:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # PIL only warns between its limit and twice it
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
        with im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise DataError(msg("'{member}' is {width}×{height}: images may have at most "
                                    "{max_image_pixels:,} pixels", member=member, width=im.width,
                                    height=im.height, max_image_pixels=MAX_IMAGE_PIXELS))
            im = im.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
            a = np.asarray(im, dtype=np.float32) / 255.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(msg("'{member}' declares more than {pil_limit:,} pixels (a decompression "
                            "bomb): images may have at most {max_image_pixels:,} pixels",
                            member=member, pil_limit=Image.MAX_IMAGE_PIXELS or 0,
                            max_image_pixels=MAX_IMAGE_PIXELS)) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(msg("'{member}' cannot be read as an image: remove or re-save it",
                            member=member)) from None
    t = torch.from_numpy(a.copy())
    t = t.unsqueeze(0) if t.dim() == 2 else t.permute(2, 0, 1)
    return fit_channels(t.unsqueeze(0), c, member)[0]


def load(choice: DataChoice, input_shape: Sequence[int], num_classes: int,
         upload: bytes | None = None) -> DataSet:
    """The data set ``choice`` names, resized to ``input_shape``."""
    if choice.kind == "digits":
        return digits(input_shape, num_classes, choice.seed)
    if choice.kind == "shapes":
        return shapes(input_shape, num_classes, choice.n, choice.seed, choice.noise)
    if choice.kind == "folder":
        return torchvision_folder(choice.path, input_shape, num_classes, choice.seed)
    if choice.kind == "zip":
        return class_zip(upload if upload is not None else choice.path, input_shape,
                         num_classes, choice.seed, Path(choice.path).name or "upload")
    raise DataError(msg("unknown data kind '{kind}': use digits, shapes, a folder or a zip",
                        kind=choice.kind))
