"""Reference models: every torchvision classification builder as ``torchvision:NAME``, built
with random weights (``weights=None``: nothing is ever downloaded)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache

from torch import nn

from .base import BaseConfig, ConfigError, LazyChoices, knob
from .registry import Family, ModelSpec, register_family
from vizapp.i18n import msg


@lru_cache(maxsize=1)
def builder_names() -> tuple[str, ...]:
    import torchvision

    return tuple(sorted(torchvision.models.list_models(module=torchvision.models)))


def _input_size(name: str) -> int:
    """The crop size the builder's default weights were trained at, from their metadata (299
    for inception_v3, 518 for vit_h_14); 224 when there is none."""
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(name).DEFAULT
    except (ValueError, AttributeError, KeyError):
        return 224
    crop = getattr(weights.transforms, "keywords", {}).get("crop_size")
    if crop:
        return int(crop if isinstance(crop, int) else crop[0])
    return max(224, int(weights.meta.get("min_size", (224, 224))[0]))


def _vit_patch(name: str) -> int | None:
    """A vision transformer's patch size (vit_h_14 → 14); None for other builders. ViTs are
    built for one image size, so they are built at the configured one."""
    import torchvision

    builder = torchvision.models.get_model_builder(name)
    if builder.__module__ != "torchvision.models.vision_transformer":
        return None
    return int(name.rsplit("_", 1)[1])


@dataclass(frozen=True)
class TorchvisionConfig(BaseConfig):
    name: str = knob("resnet18", choices=LazyChoices(builder_names),
                     help="A torchvision.models classification builder (built with random "
                          "weights: nothing is downloaded).")
    in_channels: int = knob(3, min=3, max=3, step=1, group="input",
                            help="torchvision models take RGB (3-channel) input.")
    num_classes: int = knob(1000, min=1, max=100000, step=1,
                            help="Outputs of the classifier (1000 = ImageNet).")

    def validate(self) -> None:
        # the name first: a close-match hint beats the bounds check's list of 80 choices
        if self.name not in builder_names():
            close = difflib.get_close_matches(self.name, builder_names(), n=3)
            hint = (msg(" Did you mean {names}?", names=", ".join(close)) if close else
                    msg(" Try e.g. resnet18, vgg16, densenet121, mobilenet_v2."))
            raise ConfigError(msg("torchvision has no classification model '{name}'.{hint}",
                                  name=self.name, hint=hint), "name")
        super().validate()
        patch = _vit_patch(self.name)
        if patch and (self.height != self.width or self.height % patch):
            raise ConfigError(msg("{name} takes a square image whose side is a multiple of its "
                                  "{patch}-pixel patches (got {h}×{w}); try {s}×{s}",
                                  name=self.name, patch=patch, h=self.height, w=self.width,
                                  s=_input_size(self.name)), "height")


# builders whose weights-free default differs from the published (inference) architecture:
# GoogLeNet's auxiliary classifiers are dropped once its pretrained weights load (the
# published count excludes them); Inception-v3 keeps its AuxLogits in the published weights
# (27,161,264 parameters include them; in evaluation they never run, so MACs are unchanged).
_PUBLISHED_KWARGS = {"googlenet": {"aux_logits": False, "init_weights": False},
                     "inception_v3": {"aux_logits": True, "init_weights": False}}


def build(cfg: TorchvisionConfig) -> nn.Module:
    import torchvision

    kwargs = dict(_PUBLISHED_KWARGS.get(cfg.name, {}))
    if _vit_patch(cfg.name):
        kwargs["image_size"] = cfg.height
    return torchvision.models.get_model(cfg.name, weights=None, num_classes=cfg.num_classes,
                                        **kwargs)


def torchvision_spec(name: str) -> ModelSpec:
    side = _input_size(name) if name in builder_names() else 224
    cfg = TorchvisionConfig(name=name, height=side, width=side)
    cfg.validate()
    return ModelSpec("torchvision", cfg, f"torchvision:{name}")


PREFIX = "torchvision:"


def resolve_name(name: str) -> ModelSpec | None:
    """``torchvision:NAME`` → its spec (ConfigError for an unknown NAME); None for other names."""
    if not name.startswith(PREFIX):
        return None
    return torchvision_spec(name[len(PREFIX):])


def spec_name(spec: ModelSpec) -> str:
    """``torchvision:NAME``: what a link names this model by."""
    return PREFIX + spec.config.name


def model_names() -> list[str]:
    return [PREFIX + n for n in builder_names()]


register_family(Family("torchvision", "torchvision reference", TorchvisionConfig, build,
                       "Any torchvision classification model, built without weights.",
                       default_preset=PREFIX + "resnet18", resolve_name=resolve_name,
                       model_names=model_names, hidden_knobs=("name",),
                       name_of=spec_name))
