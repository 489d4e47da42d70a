"""The class exercise: codes, anonymous answers, the teacher's results with the slip behind a
wrong answer, a store that survives a restart, and the pages that use it."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from vizapp import classroom
from tests.test_app import MAIN


@pytest.fixture
def store(tmp_path):
    return classroom.Store(tmp_path / "classes.sqlite3")


@pytest.mark.parametrize("text", ["abc", "7QK", "7QK22", "0O1I", "'; DROP TABLE classes; --",
                                  "<b>7QK2</b>", "", "７ＱＫ２"])
def test_nonsense_codes_are_refused_before_the_database(text, store):
    with pytest.raises(classroom.ClassroomError) as err:
        classroom.normalize_code(text)
    assert "is not a class code" in err.value.message


def test_answers_are_kept_across_a_restart_and_counted_per_student(store, tmp_path):
    code, token = store.create({"model": "lenet", "exercise": "1"})
    assert classroom.CODE_RE.match(code) and store.is_teacher(code, token)
    assert not store.is_teacher(code, "guess") and not store.is_teacher(code, "")
    store.record(code, "s1", "conv1", "6×24×24", False, 1)
    store.record(code, "s1", "conv1", "6×28×28", True, 2)
    store.record(code, "s2", "conv1", "6×28×28", True, 1)
    store.record(code, "s3", "conv1", "6×24×24", False, 1)
    again = classroom.Store(tmp_path / "classes.sqlite3")  # a new server process
    [r] = again.results(code.lower())
    assert (r.row, r.answered, r.first_try) == ("conv1", 3, 1)
    assert r.wrong[0] == classroom.WrongAnswer("6×24×24", 2, "")
    assert again.model(code) == {"model": "lenet", "exercise": "1"}
    with pytest.raises(classroom.ClassroomError, match="there is no class"):
        again.results("ZZZZ" if code != "ZZZZ" else "YYYY")


def test_the_store_is_bounded(store, monkeypatch):
    monkeypatch.setattr(classroom, "MAX_ANSWERS", 3)
    code, _ = store.create({"model": "lenet"})
    for i in range(3):
        store.record(code, "s", "conv1", "x" * 500, False, i + 1)
    with pytest.raises(classroom.ClassroomError, match="the most it keeps"):
        store.record(code, "s", "conv1", "6×28×28", True, 4)
    assert all(len(w.answer) == classroom.MAX_ANSWER_CHARS for w in store.results(code)[0].wrong)
    monkeypatch.setattr(classroom, "MAX_CLASSES", 2)
    codes = [store.create({"model": "lenet"})[0] for _ in range(3)]
    with pytest.raises(classroom.ClassroomError):
        store.model(code)  # the oldest made room
    assert store.model(codes[-1]) == {"model": "lenet"}


@pytest.mark.parametrize("kind,attrs,inp,wrong,why", [
    ("Conv2d", (("kernel", (5, 5)), ("stride", (1, 1)), ("padding", (2, 2)), ("in", 1),
                ("out", 6)), (1, 28, 28), (6, 24, 24), "they forgot padding=2"),
    ("Conv2d", (("kernel", (11, 11)), ("stride", (4, 4)), ("padding", (1, 1)), ("in", 1),
                ("out", 96)), (1, 224, 224), (96, 216, 216), "they forgot stride=4"),
    ("Conv2d", (("kernel", (3, 3)), ("stride", (1, 1)), ("padding", (1, 1)), ("in", 3),
                ("out", 64)), (3, 32, 32), (3, 32, 32), "they kept the input's 3 channels"),
    ("MaxPool2d", (("kernel", (3, 3)), ("stride", (2, 2)), ("padding", (0, 0))),
     (96, 54, 54), (96, 52, 52), "they forgot stride=2"),
    ("Conv2d", (("kernel", (5, 5)), ("stride", (1, 1)), ("padding", (2, 2)), ("in", 1),
                ("out", 6)), (1, 28, 28), (6, 14, 14), ""),
])
def test_the_slip_behind_a_wrong_answer(kind, attrs, inp, wrong, why):
    """Worked by hand: ⌊(28 − 5)/1⌋ + 1 = 24 without padding; ⌊(224 + 2 − 11)/1⌋ + 1 = 216
    without stride; ⌊(54 − 3)/1⌋ + 1 = 52 for the pool with stride 1."""
    assert str(classroom.slip(kind, attrs, inp, wrong)).startswith(why)


def _student(code: str) -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params["class"] = code
    at.run()
    at.switch_page("app_pages/shapes.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _answer(at: AppTest, text: str) -> None:
    from components import exercise as ex
    at.text_input(key=ex.ANSWER_KEY).set_value(text)
    at.button(key="vz.exercise.check").click().run()


def test_teacher_starts_a_class_students_answer_the_teacher_sees_why():
    teacher = AppTest.from_file(MAIN, default_timeout=120)
    teacher.query_params.update({"model": "lenet", "exercise": "1"})
    teacher.run()
    teacher.switch_page("app_pages/shapes.py").run()
    teacher.button(key="vz.class.start").click().run()
    assert not teacher.exception, [e.value for e in teacher.exception]
    code = teacher.query_params["class"]
    code = code if isinstance(code, str) else code[0]
    assert classroom.CODE_RE.match(code) and teacher.query_params["teacher"]
    one, two = _student(code), _student(code)  # ?class=CODE alone: LeNet, exercise on
    assert any("nn.Conv2d(1, 6, kernel_size=5, padding=2)" in c.value for c in one.code)
    _answer(one, "6x24x24")  # forgot padding=2
    _answer(two, "6x28x28")
    for at in (one, two):  # a student sees no one's answers
        assert not any("answered" in d.value.columns for d in at.dataframe)
    teacher.button(key="vz.class.refresh").click().run()
    table = next(d for d in teacher.dataframe if "answered" in d.value.columns).value
    row = table.iloc[0]
    assert row["layer"] == "conv1" and row["answered"] == 2 and row["right at the first try"] == 1
    assert row["most common wrong answers"] == "1× 6×24×24 (they forgot padding=2)"


def test_a_bad_class_link_is_a_message():
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update({"model": "lenet", "exercise": "1", "class": "[x](https://e.invalid)"})
    at.run()
    at.switch_page("app_pages/shapes.py").run()
    assert not at.exception
    assert any("is not a class code" in t.value for t in at.text)
