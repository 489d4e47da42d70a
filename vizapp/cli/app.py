"""``vizapp app [STREAMLIT OPTIONS…]``: start the Streamlit app with vizapp's safe settings
(localhost only, no tracebacks in the browser, upload cap, no usage statistics)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "app", help="start the web app (localhost only unless --server.address 0.0.0.0)",
        description="Runs `streamlit run vizapp/main.py` with the safe settings as flags; any "
                    "further options go to streamlit, e.g. --server.port 8502 or "
                    "--server.address 0.0.0.0 to share it on a LAN. --allow-code lets the "
                    "'Your model' box run class-based model code (arbitrary Python): only on "
                    "your own computer.")
    p.usage = "vizapp app [--allow-code] [STREAMLIT OPTION …]"
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:  # reached only without options (see cli.main)
    from vizapp.serve import launch

    return launch([])
