"""The families the app offers, in the order the UI lists them.

Importing a family module registers it (and its presets, and how it resolves its own names);
:func:`vizapp.zoo.registry._load` imports this module once, under a lock."""

from . import lenet, alexnet, vgg, nin, googlenet, resnet, densenet, torchvision_ref  # noqa: F401
