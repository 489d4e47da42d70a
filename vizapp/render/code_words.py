"""The generated code's comments and one-line docstrings in the reader's language.

The generators write English; :func:`localize` finds the comments and one-line docstrings with
Python's own tokenizer (so a ``#`` inside a string literal — a module's name — is never taken
for a comment) and replaces each one the catalogue translates. Code, names and strings are left
as they are: the file runs the same in every language."""

from __future__ import annotations

import io
import tokenize

from vizapp import i18n

# the English comments and docstrings the generators write (extracted for the catalogue)
WORDS = (
    i18n.N_("A named container: the model's forward() below reaches into it by attribute."),
    i18n.N_("Basic block: two 3×3 convs; a 1×1 conv on the shortcut when the shape changes."),
    i18n.N_("DenseNet-BC: a 1×1 conv to 4·k channels (the bottleneck) before the 3×3 conv."),
    i18n.N_("Four parallel branches p1…p4, concatenated on the channel axis (in that order)."),
    i18n.N_("Seed 001's ResNet._make_layer, as a function."),
    i18n.N_("Seed 001's ``block``: 1×1 reduce → 3×3 (with the stride) → 1×1 expand ×4."),
    i18n.N_("between dense blocks, a transition layer halves the channels"),
    i18n.N_("branch 1: a single 1×1 conv"),
    i18n.N_("branch 2: 1×1 conv, then 3×3 conv"),
    i18n.N_("branch 3: 1×1 conv, then 5×5 conv"),
    i18n.N_("branch 4: 3×3 max pool, then 1×1 conv"),
    i18n.N_("c1--c4 are the output channels of each branch"),
    i18n.N_("change the shortcut's shape so that x + identity can be added"),
    i18n.N_("x and identity must have the same shape to be added"),
    i18n.N_("concatenate input and output on the channel axis"),
    i18n.N_("in the order they were added"),
    i18n.N_("the seed's shape loop"),
    i18n.N_("the dense block's output channels"),
    i18n.N_("output channels"),
)


def _translated(text: str) -> str | None:
    out = i18n._(text)
    return out if out != text else None


def localize(code: str) -> str:
    """``code`` with its comments and one-line docstrings in the current language."""
    if i18n.get_lang() == i18n.SOURCE_LANG:
        return code
    lines = code.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []  # (row, start col, end col, new text)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.COMMENT:
                new = _translated(tok.string[1:].strip())
                if new:
                    edits.append((tok.start[0], tok.start[1], tok.end[1], "# " + new))
            elif tok.type == tokenize.STRING and tok.start[0] == tok.end[0] and \
                    tok.string.startswith('"""') and tok.string.endswith('"""'):
                new = _translated(tok.string[3:-3])
                if new and '"""' not in new and "\\" not in new:
                    edits.append((tok.start[0], tok.start[1], tok.end[1], f'"""{new}"""'))
    except (tokenize.TokenError, SyntaxError):
        return code
    for row, a, b, new in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:a] + new + line[b:]
    return "".join(lines)
