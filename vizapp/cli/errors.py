"""The one error a sub-command raises for a mistake the user can fix (a bad preset, knob,
file): :func:`vizapp.cli.main` prints it as one line and exits with code 2. Its own module so
the sub-command modules need not import the package that imports them."""

from __future__ import annotations


class UserError(Exception):
    """A problem with what the user asked for; printed as one line, exit code 2."""
