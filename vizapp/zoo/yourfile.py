"""Your file: ``vizapp serve path/to/file.py:factory`` starts the app with your own builder
registered as the family "Your file" (preset ``yourfile``). Your file is run as Python — it is
your code, on your own command line — in the server and its analysis workers, which find it
through the environment variable :data:`ENV` the launcher sets. Without that variable this
module registers nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass

from torch import nn

from vizapp.i18n import msg

from .base import BaseConfig, ConfigError, knob
from .registry import Family, Preset, register_family, register_preset

ENV = "VIZAPP_FACTORY"  # "path/to/file.py:factory"


def load_factory(target: str) -> nn.Module:
    """``path/to/file.py:factory`` → ``factory()``; ConfigError (one line) when it fails."""
    import runpy

    path, _, name = target.rpartition(":")
    if not path.endswith(".py") or not name:
        raise ConfigError(msg("expected path/to/file.py:factory, got '{target}'",
                              target=target[:120]))
    try:
        ns = runpy.run_path(path)
    except SystemExit as exc:  # sys.exit()/exit() at the top level: a script, not a module
        raise ConfigError(msg("{path} called exit({code}) while vizapp loaded it: put the "
                              "script part of the file under `if __name__ == \"__main__\":` "
                              "(vizapp does not run that part)", path=path,
                              code=repr(exc.code))) from None
    except OSError as exc:
        raise ConfigError(msg("cannot read {path}: {strerror}", path=path,
                              strerror=exc.strerror)) from None
    except Exception as exc:  # noqa: BLE001 - their file's error, as one line
        raise ConfigError(msg("{path} failed to run: {type}: {exc}", path=path,
                              type=type(exc).__name__, exc=str(exc))) from None
    if not callable(ns.get(name)):
        raise ConfigError(msg("{path} defines no function '{name}'", path=path, name=name))
    try:
        model = ns[name]()
    except SystemExit as exc:
        raise ConfigError(msg("{name}() called exit({code}): it should return the model",
                              name=name, code=repr(exc.code))) from None
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(msg("{name}() failed: {type}: {exc}", name=name, type=type(exc).__name__,
                              exc=str(exc))) from None
    if not isinstance(model, nn.Module):
        raise ConfigError(msg("{name}() returned {type}, not an nn.Module", name=name,
                              type=type(model).__name__))
    return model


@dataclass(frozen=True)
class YourFileConfig(BaseConfig):
    in_channels: int = knob(3, min=1, max=64, step=1, group="input",
                            help="Channels of the input image (1 = grey, 3 = RGB).")
    num_classes: int = knob(10, min=1, max=100000, step=1,
                            help="Not used: your factory decides the last layer.")


def build(cfg: YourFileConfig) -> nn.Module:
    target = os.environ.get(ENV, "")
    if not target:
        raise ConfigError(msg("no file to build: start the app with `vizapp serve "
                              "path/to/file.py:factory` (it sets {env})", env=ENV))
    return load_factory(target)


if os.environ.get(ENV):
    register_family(Family("yourfile", "Your file", YourFileConfig, build,
                           f"The model your factory returns ({os.environ[ENV][-80:]}).",
                           default_preset="yourfile", hidden_knobs=("num_classes",)))
    register_preset(Preset("yourfile", "yourfile", YourFileConfig(),
                           f"{os.environ[ENV][-80:]} — your own builder, 3×224×224"))
