"""A class exercise: a teacher creates one (a short code in the link, ``?class=7QK2``), each
student's answers are recorded anonymously, and the teacher sees, per layer, how many answered,
how many were right on the first try and the most common wrong answers — with the slip that
explains one when a slip does ("14 of 30 wrote 6×24×24 for conv1: they forgot padding=2").

Stored in SQLite (the standard library; no server to install) in one file under the data
directory: ``$VIZAPP_DATA_DIR`` or ``~/.local/share/vizapp`` (``classes.sqlite3``), so a class
survives a server restart. Bounded: at most :data:`MAX_CLASSES` classes (the oldest go first,
and none older than :data:`KEEP_DAYS` days is kept), :data:`MAX_ANSWERS` answers per class,
answers cut at :data:`MAX_ANSWER_CHARS` characters. A code is 4 characters of an alphabet without
look-alikes (no 0/O, 1/I); anything else is refused before the database is asked. The
teacher's view needs the teacher's token, stored as a hash. No Streamlit here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from vizapp.i18n import msg

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_RE = re.compile(r"^[A-HJ-NP-Z2-9]{4}$")
MAX_CLASSES = 2000
MAX_ANSWERS = 50_000  # per class
MAX_ANSWER_CHARS = 40
MAX_QUERY_CHARS = 8_000  # the model's link parameters (the code box's code included)
KEEP_DAYS = 60
DATA_ENV = "VIZAPP_DATA_DIR"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (
    code TEXT PRIMARY KEY, teacher TEXT NOT NULL, model TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY, code TEXT NOT NULL, student TEXT NOT NULL, row TEXT NOT NULL,
    answer TEXT NOT NULL, right INTEGER NOT NULL, try INTEGER NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS answers_code ON answers (code, row);
"""


class ClassroomError(ValueError):
    """A code that is not one, a class that does not exist, a full class (message says why)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def data_dir() -> Path:
    """Where vizapp keeps what must survive a restart: ``$VIZAPP_DATA_DIR`` or
    ``~/.local/share/vizapp``."""
    env = os.environ.get(DATA_ENV)
    base = Path(env) if env else Path(os.environ.get("XDG_DATA_HOME") or
                                      Path.home() / ".local" / "share") / "vizapp"
    return base


def normalize_code(text: Any) -> str:
    """``" 7qk2 "`` → ``"7QK2"``; ClassroomError for anything that is not a class code."""
    code = str(text or "").strip().upper()
    if not CODE_RE.match(code):
        shown = code[:12] + ("…" if len(code) > 12 else "")
        raise ClassroomError(msg("'{text}' is not a class code: a code is 4 letters or digits "
                                 "such as 7QK2 (your teacher's link has it)", text=shown))
    return code


@dataclass(frozen=True)
class WrongAnswer:
    answer: str
    count: int
    why: str  # the slip that gives this answer ("" when none is known)


@dataclass(frozen=True)
class RowResult:
    row: str
    answered: int  # students who answered this row at least once
    first_try: int  # ... and were right on their first try
    wrong: tuple[WrongAnswer, ...]  # most common wrong answers, most frequent first


class Store:
    """The classes and their answers in one SQLite file (thread-safe: a connection per call,
    a lock around writes)."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else data_dir() / "classes.sqlite3"
        self._lock = threading.Lock()
        self._ready = False

    def _db(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(self.path, timeout=10) as con:
                con.executescript(_SCHEMA)
            self._ready = True
        con = sqlite3.connect(self.path, timeout=10)
        con.execute("PRAGMA busy_timeout = 10000")
        return con

    # ---------------------------------------------------------------- the teacher
    def create(self, model: dict[str, str]) -> tuple[str, str]:
        """A new class for the model the link parameters ``model`` name; (code, token)."""
        text = json.dumps({str(k): str(v) for k, v in model.items()}, sort_keys=True)
        if len(text) > MAX_QUERY_CHARS:
            raise ClassroomError(msg("this model's settings are too long to keep for a class "
                                     "(shorten the code)"))
        token = secrets.token_urlsafe(12)
        now = time.time()
        with self._lock, self._db() as con:
            con.execute("DELETE FROM answers WHERE code IN (SELECT code FROM classes WHERE "
                        "created < ?)", (now - KEEP_DAYS * 86400,))
            con.execute("DELETE FROM classes WHERE created < ?", (now - KEEP_DAYS * 86400,))
            n = con.execute("SELECT COUNT(*) FROM classes").fetchone()[0]
            if n >= MAX_CLASSES:  # the oldest make room
                old = [r[0] for r in con.execute("SELECT code FROM classes ORDER BY created "
                                                 "LIMIT ?", (n - MAX_CLASSES + 1,))]
                con.executemany("DELETE FROM answers WHERE code = ?", [(c,) for c in old])
                con.executemany("DELETE FROM classes WHERE code = ?", [(c,) for c in old])
            for _ in range(100):
                code = "".join(secrets.choice(ALPHABET) for _ in range(4))
                if con.execute("SELECT 1 FROM classes WHERE code = ?", (code,)).fetchone() is None:
                    break
            con.execute("INSERT INTO classes VALUES (?, ?, ?, ?)",
                        (code, _hash(token), text, now))
        return code, token

    def is_teacher(self, code: str, token: Any) -> bool:
        row = self._class_row(code)
        return bool(token) and hmac.compare_digest(row[1], _hash(str(token)))

    def results(self, code: str) -> list[RowResult]:
        """Per row, in the order rows were first answered: answered, right first try, the
        most common wrong answers (the teacher's view)."""
        code = self._class_row(code)[0]
        with self._db() as con:
            rows = con.execute("SELECT row, student, answer, right, try FROM answers WHERE "
                               "code = ? ORDER BY id", (code,)).fetchall()
        order: list[str] = []
        students: dict[str, set[str]] = {}
        first: dict[str, set[str]] = {}
        wrong: dict[str, Counter] = {}
        for row, student, answer, right, tries in rows:
            if row not in students:
                order.append(row)
                students[row], first[row], wrong[row] = set(), set(), Counter()
            students[row].add(student)
            if right and tries == 1:
                first[row].add(student)
            if not right:
                wrong[row][answer] += 1
        return [RowResult(r, len(students[r]), len(first[r]),
                          tuple(WrongAnswer(a, n, "") for a, n in wrong[r].most_common(3)))
                for r in order]

    # ---------------------------------------------------------------- the students
    def model(self, code: str) -> dict[str, str]:
        """The link parameters of the class's model (ClassroomError: no such class)."""
        return json.loads(self._class_row(code)[2])

    def record(self, code: str, student: str, row: str, answer: Any, right: bool,
               tries: int) -> None:
        """One try of one student at one row (anonymous: ``student`` is a random id)."""
        code = self._class_row(code)[0]
        text = str(answer or "").strip()[:MAX_ANSWER_CHARS]
        with self._lock, self._db() as con:
            n = con.execute("SELECT COUNT(*) FROM answers WHERE code = ?", (code,)).fetchone()[0]
            if n >= MAX_ANSWERS:
                raise ClassroomError(msg("class {code} has recorded {n:,} answers, the most it "
                                         "keeps: ask your teacher for a new class", code=code,
                                         n=n))
            con.execute("INSERT INTO answers (code, student, row, answer, right, try, created) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (code, str(student)[:64], str(row)[:200], text, int(bool(right)),
                         int(tries), time.time()))

    def _class_row(self, code: str) -> tuple:
        code = normalize_code(code)
        with self._db() as con:
            row = con.execute("SELECT code, teacher, model, created FROM classes WHERE code = ?",
                              (code,)).fetchone()
        if row is None:
            raise ClassroomError(msg("there is no class {code} (it may have ended: classes are "
                                     "kept {days} days): check the link", code=code,
                                     days=KEEP_DAYS))
        return row


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------ the slips
def _out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    return math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1


def slip(module_type: str, attrs: Sequence[tuple[str, Any]], input_shape: Sequence[int],
         wrong: Sequence[int]) -> str:
    """The mistake that gives the answer ``wrong`` (C, H, W) for a convolution or pooling
    layer with these settings and this input (C, H, W): "forgot padding=2", "forgot
    stride=2", "kept the input's 3 channels"; "" when no single slip explains it."""
    a = dict(attrs)
    if "kernel" not in a or len(input_shape) != 3 or len(wrong) != 3:
        return ""
    c, h, w = input_shape
    (kh, kw), (sh, sw), (ph, pw) = a["kernel"], a.get("stride", (1, 1)), a.get("padding", (0, 0))
    dh, dw = a.get("dilation", (1, 1))
    out_c = a.get("out", c)

    def shape(oc: int, s: tuple[int, int], p: tuple[int, int]) -> tuple[int, int, int]:
        return (oc, _out(h, kh, s[0], p[0], dh), _out(w, kw, s[1], p[1], dw))

    guesses = []
    if (ph, pw) != (0, 0):
        guesses.append((shape(out_c, (sh, sw), (0, 0)),
                        msg("they forgot padding={p}", p=ph if ph == pw else (ph, pw))))
    if (sh, sw) != (1, 1):
        guesses.append((shape(out_c, (1, 1), (ph, pw)),
                        msg("they forgot stride={s}", s=sh if sh == sw else (sh, sw))))
    if out_c != c:
        guesses.append((shape(c, (sh, sw), (ph, pw)),
                        msg("they kept the input's {c} channels instead of {out}", c=c,
                            out=out_c)))
    if (ph, pw) != (0, 0) and (sh, sw) != (1, 1):
        guesses.append((shape(out_c, (1, 1), (0, 0)),
                        msg("they forgot padding and stride")))
    for guess, why in guesses:
        if tuple(wrong) == guess:
            return why
    return ""
