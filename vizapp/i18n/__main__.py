"""``python -m vizapp.i18n compile|missing``: the translators' commands (see
:mod:`vizapp.i18n.catalog`)."""

from vizapp.i18n.catalog import main

if __name__ == "__main__":
    raise SystemExit(main())
