"""``vizapp serve path/to/file.py:factory [STREAMLIT OPTIONS…]``: the app, opened on the model
your own factory function returns (registered as the family "Your file"), with vizapp's safe
settings. Your file runs as Python in the server: your code, on your own computer."""

from __future__ import annotations

import argparse
import os


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="the app on your own builder: path/to/file.py:factory")
    p.add_argument("target", metavar="FILE.py:FACTORY", help="a function returning an nn.Module")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, extra: list[str] | None = None) -> int:
    from vizapp.serve import launch
    from vizapp.zoo.yourfile import ENV, load_factory

    from vizapp.i18n import msg
    from vizapp.zoo import ConfigError

    from .errors import UserError

    target = args.target
    path, colon, name = target.rpartition(":")
    if not colon or not path or not name or name.endswith(".py"):  # "good.py", "good.py:"
        stem = target.rstrip(":")
        raise UserError(msg("'{target}' names no function: give the file and the function that "
                            "returns your model, FILE.py:FUNCTION (e.g. {example})",
                            target=target, example=f"{stem}:make" if stem.endswith(".py")
                            else "models.py:make"))
    try:
        load_factory(f"{os.path.abspath(path)}:{name}")  # fails here, as one line, not later
    except ConfigError as exc:
        raise UserError(exc.message) from None
    os.environ[ENV] = f"{os.path.abspath(path)}:{name}"
    return launch(extra or [])
