"""The seed pages' printed per-layer output shapes, as data (../shared/seeds/*.txt).

Each :class:`Seed` records the input the page used and the rows it printed while iterating the
network's direct children (``for layer in net`` / ``for name, layer in net.named_children()``):
one (label, output shape) per child, copied from the printout. ``label_kind`` says whether the
page printed the class name (``layer.__class__.__name__``) or the child's name.

Where the page printed names, ``types`` gives the class of each child as the page's code builds
it, with d2l's ``GlobalAvgPool2d`` written as its standard equivalent ``AdaptiveAvgPool2d``
(an average over the whole H×W, i.e. ``AdaptiveAvgPool2d((1, 1))``).

Imported by tests/test_zoo.py and by other test files (the analysis must agree with these too).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Seed:
    preset: str  # the vizapp preset that must reproduce it
    source: str  # seed file number, e.g. "002"
    input_shape: tuple[int, int, int, int]  # N, C, H, W as the page's X = torch.rand(...)
    rows: tuple[tuple[str, tuple[int, ...]], ...]  # (label, output shape) per printed line
    label_kind: str = "type"  # "type": class names; "name": child names; "final": output only
    types: tuple[str, ...] | None = None  # class per row where the page printed names

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.rows[-1][1]


SEEDS: dict[str, Seed] = {}


def _add(seed: Seed) -> None:
    SEEDS[seed.preset] = seed


# --------------------------------------------------------------------------- 002: LeNet
_add(Seed("lenet", "002", (1, 1, 28, 28), (
    ("Conv2d", (1, 6, 28, 28)),
    ("Sigmoid", (1, 6, 28, 28)),
    ("AvgPool2d", (1, 6, 14, 14)),
    ("Conv2d", (1, 16, 10, 10)),
    ("Sigmoid", (1, 16, 10, 10)),
    ("AvgPool2d", (1, 16, 5, 5)),
    ("Flatten", (1, 400)),
    ("Linear", (1, 120)),
    ("Sigmoid", (1, 120)),
    ("Linear", (1, 84)),
    ("Sigmoid", (1, 84)),
    ("Linear", (1, 10)),
)))

# --------------------------------------------------------------------------- 002: LeNet + BN
_add(Seed("lenet-bn", "002", (2, 1, 28, 28), (
    ("Conv2d", (2, 6, 24, 24)),
    ("BatchNorm2d", (2, 6, 24, 24)),
    ("Sigmoid", (2, 6, 24, 24)),
    ("AvgPool2d", (2, 6, 12, 12)),
    ("Conv2d", (2, 16, 8, 8)),
    ("BatchNorm2d", (2, 16, 8, 8)),
    ("Sigmoid", (2, 16, 8, 8)),
    ("AvgPool2d", (2, 16, 4, 4)),
    ("Flatten", (2, 256)),
    ("Linear", (2, 120)),
    ("BatchNorm1d", (2, 120)),
    ("Sigmoid", (2, 120)),
    ("Linear", (2, 84)),
    ("BatchNorm1d", (2, 84)),
    ("Sigmoid", (2, 84)),
    ("Linear", (2, 10)),
)))

# --------------------------------------------------------------------------- 002: AlexNet
_add(Seed("alexnet", "002", (1, 1, 224, 224), (
    ("Conv2d", (1, 96, 54, 54)),
    ("ReLU", (1, 96, 54, 54)),
    ("MaxPool2d", (1, 96, 26, 26)),
    ("Conv2d", (1, 256, 26, 26)),
    ("ReLU", (1, 256, 26, 26)),
    ("MaxPool2d", (1, 256, 12, 12)),
    ("Conv2d", (1, 384, 12, 12)),
    ("ReLU", (1, 384, 12, 12)),
    ("Conv2d", (1, 384, 12, 12)),
    ("ReLU", (1, 384, 12, 12)),
    ("Conv2d", (1, 256, 12, 12)),
    ("ReLU", (1, 256, 12, 12)),
    ("MaxPool2d", (1, 256, 5, 5)),
    ("Flatten", (1, 6400)),
    ("Linear", (1, 4096)),
    ("ReLU", (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Linear", (1, 4096)),
    ("ReLU", (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Linear", (1, 10)),
)))

# --------------------------------------------------------------------------- 002: VGG-11
_add(Seed("vgg11", "002", (1, 1, 224, 224), (
    ("Sequential", (1, 64, 112, 112)),
    ("Sequential", (1, 128, 56, 56)),
    ("Sequential", (1, 256, 28, 28)),
    ("Sequential", (1, 512, 14, 14)),
    ("Sequential", (1, 512, 7, 7)),
    ("Flatten", (1, 25088)),
    ("Linear", (1, 4096)),
    ("ReLU", (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Linear", (1, 4096)),
    ("ReLU", (1, 4096)),
    ("Dropout", (1, 4096)),
    ("Linear", (1, 10)),
)))

# --------------------------------------------------------------------------- 002: NiN
_add(Seed("nin", "002", (1, 1, 224, 224), (
    ("Sequential", (1, 96, 54, 54)),
    ("MaxPool2d", (1, 96, 26, 26)),
    ("Sequential", (1, 256, 26, 26)),
    ("MaxPool2d", (1, 256, 12, 12)),
    ("Sequential", (1, 384, 12, 12)),
    ("MaxPool2d", (1, 384, 5, 5)),
    ("Dropout", (1, 384, 5, 5)),
    ("Sequential", (1, 10, 5, 5)),
    ("AdaptiveAvgPool2d", (1, 10, 1, 1)),
    ("Flatten", (1, 10)),
)))

# --------------------------------------------------------------------------- 002: GoogLeNet
_add(Seed("googlenet", "002", (1, 1, 96, 96), (
    ("Sequential", (1, 64, 24, 24)),
    ("Sequential", (1, 192, 12, 12)),
    ("Sequential", (1, 480, 6, 6)),
    ("Sequential", (1, 832, 3, 3)),
    ("Sequential", (1, 1024)),
    ("Linear", (1, 10)),
)))

# --------------------------------------------------------------------------- 002 / 004: ResNet-18
# (seed 004 prints the same eight rows for the same code)
_add(Seed("resnet18", "002", (1, 1, 224, 224), (
    ("Sequential", (1, 64, 56, 56)),
    ("Sequential", (1, 64, 56, 56)),
    ("Sequential", (1, 128, 28, 28)),
    ("Sequential", (1, 256, 14, 14)),
    ("Sequential", (1, 512, 7, 7)),
    ("AdaptiveAvgPool2d", (1, 512, 1, 1)),
    ("Flatten", (1, 512)),
    ("Linear", (1, 10)),
)))

# --------------------------------------------------------------------------- 001: ResNet-50/101/152
# the page prints only the final output of ``net(torch.randn(2, 3, 224, 224))``
for _name in ("resnet50", "resnet101", "resnet152"):
    _add(Seed(_name, "001", (2, 3, 224, 224), (("output", (2, 1000)),), label_kind="final"))

# --------------------------------------------------------------------------- 000: DenseNet
_add(Seed("densenet", "000", (1, 1, 96, 96), (
    ("0", (1, 64, 48, 48)),
    ("1", (1, 64, 48, 48)),
    ("2", (1, 64, 48, 48)),
    ("3", (1, 64, 24, 24)),
    ("DenseBlosk_0", (1, 192, 24, 24)),
    ("transition_block_0", (1, 96, 12, 12)),
    ("DenseBlosk_1", (1, 224, 12, 12)),
    ("transition_block_1", (1, 112, 6, 6)),
    ("DenseBlosk_2", (1, 240, 6, 6)),
    ("transition_block_2", (1, 120, 3, 3)),
    ("DenseBlosk_3", (1, 248, 3, 3)),
    ("BN", (1, 248, 3, 3)),
    ("relu", (1, 248, 3, 3)),
    ("global_avg_pool", (1, 248, 1, 1)),
    ("fc", (1, 10)),
), label_kind="name", types=(
    "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
    "DenseBlock", "Sequential", "DenseBlock", "Sequential", "DenseBlock", "Sequential",
    "DenseBlock", "BatchNorm2d", "ReLU", "AdaptiveAvgPool2d", "Sequential",
)))

# ------------------------------------------------------------- 000: ResNet-18, flat stem layout
# Seed 000 builds the same d2l ResNet-18 but adds the stem layers as four separate children and
# the head as global_avg_pool + fc = Sequential(Flatten, Linear). Not a preset of its own: the
# ``resnet18`` preset must reproduce these shapes too (its b1 expanded, flatten+fc merged).
SEED_000_RESNET18 = Seed("resnet18", "000", (1, 1, 224, 224), (
    ("0", (1, 64, 112, 112)),
    ("1", (1, 64, 112, 112)),
    ("2", (1, 64, 112, 112)),
    ("3", (1, 64, 56, 56)),
    ("resnet_block1", (1, 64, 56, 56)),
    ("resnet_block2", (1, 128, 28, 28)),
    ("resnet_block3", (1, 256, 14, 14)),
    ("resnet_block4", (1, 512, 7, 7)),
    ("global_avg_pool", (1, 512, 1, 1)),
    ("fc", (1, 10)),
), label_kind="name")
