"""The families the app offers, in the order the UI lists them.

Importing a family module registers it (and its presets, and how it resolves its own names);
:func:`vizapp.zoo.registry._load` imports this module once, under a lock, then lists families
and presets in :data:`ORDER` (a family module imported directly before keeps its place)."""

from . import lenet, alexnet, vgg, nin, googlenet, resnet, densenet, torchvision_ref  # noqa: F401
from . import custom, yourfile, modelfile  # noqa: F401

ORDER = ("yourfile", "lenet", "alexnet", "vgg", "nin", "googlenet", "resnet", "densenet",
         "torchvision_ref", "custom", "modelfile")
