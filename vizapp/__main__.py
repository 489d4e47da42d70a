"""``python -m vizapp``: start the app with its safe settings (``python -m vizapp COMMAND …``
runs the command line instead, e.g. ``python -m vizapp table resnet18``)."""

import sys

if __name__ == "__main__":
    if len(sys.argv) == 1 or sys.argv[1].startswith("--"):
        from vizapp.serve import launch

        sys.exit(launch(sys.argv[1:]))
    from vizapp.cli import main

    sys.exit(main())
