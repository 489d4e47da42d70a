"""The code in a link: ``code=`` holds the text deflated (zlib) and base64url-encoded, so a
teacher's link *is* the exercise. Both directions are capped."""

from __future__ import annotations

import base64
import binascii
import zlib

from vizapp.i18n import msg

from . import limits
from .check import CodeError

MAX_URL_CHARS = 6_000  # the encoded parameter (browsers and proxies cut links near 8 k)
PREFIX = "z1."  # format marker: deflate + base64url, version 1


def encode(code: str) -> str:
    """``code`` → ``z1.<base64url(zlib(code))>``; CodeError when it would exceed the cap."""
    raw = zlib.compress(code.encode("utf-8"), 9)
    text = PREFIX + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
    if len(text) > MAX_URL_CHARS:
        raise CodeError(msg("the code is too long for a link ({n:,} characters compressed; a link "
                            "holds {max_url_chars:,}): share the file instead, or shorten it with "
                            "loops and helper functions", n=len(text), max_url_chars=MAX_URL_CHARS))
    return text


def decode(text: str) -> str:
    """Inverse of :func:`encode`; CodeError naming what is wrong (never a zip bomb: the output
    is capped at the box's size)."""
    if len(text) > MAX_URL_CHARS:
        raise CodeError(msg("the link's code parameter is {n:,} characters long; at most "
                            "{max_url_chars:,} are read", n=len(text), max_url_chars=MAX_URL_CHARS))
    if not text.startswith(PREFIX):
        raise CodeError(msg("the link's code parameter is not in vizapp's format (it starts with "
                            "z1.)"))
    body = text[len(PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        d = zlib.decompressobj()
        out = d.decompress(raw, limits.MAX_SOURCE_CHARS * 4 + 1)
        if len(out) > limits.MAX_SOURCE_CHARS * 4 or d.unconsumed_tail:
            raise CodeError(msg("the link's code is longer than the box takes"))
        return out.decode("utf-8")
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, CodeError):
            raise
        raise CodeError(msg("the link's code parameter is damaged (was the link cut short?)")
                        ) from None
