"""Languages: the zh catalog is complete and current, placeholders agree, lazy messages render
per language from one cached (English) analysis, the CLI and the app speak Chinese on request."""

from __future__ import annotations

import ast
import html
import json
import pickle
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from vizapp import i18n
from vizapp.i18n import catalog as i18n_catalog

ROOT = Path(__file__).resolve().parents[1]
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def catalog() -> dict:
    return i18n_catalog.read_po(i18n_catalog.po_path("zh"))


def wanted() -> dict[str, str]:
    found = {k: f"{p}:{n}" for k, (p, n) in i18n_catalog.extract().items()}
    found.update(i18n_catalog.registry_msgids())
    return found


def test_extraction_finds_the_app_strings() -> None:
    ids = wanted()
    for msgid in ("Graph", "Architecture knobs", "channels {a} → {b}",
                  "growth rate", "no parameters"):
        assert msgid in ids, msgid


def test_every_message_has_a_zh_translation(catalog) -> None:
    missing = [f"{where}: {mid!r}" for mid, where in wanted().items() if not catalog.get(mid)]
    assert not missing, "untranslated (python -m vizapp.i18n missing):\n" + "\n".join(missing)


def test_placeholders_match(catalog) -> None:
    fields = i18n_catalog.placeholders
    bad = [(mid, tr) for mid, tr in catalog.items()
           if mid and isinstance(tr, str) and tr and fields(mid) != fields(tr)]
    assert not bad, bad


def test_markers_take_literal_text_only() -> None:
    """``_(f"…")`` or ``_(variable)`` cannot be extracted: the text would never be translated."""
    bad = []
    for path in i18n_catalog.source_files():
        if path.parent.name == "i18n":  # the machinery itself passes variables through
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("_", "N_", "msg", "deferred")
                    and node.args and not (isinstance(node.args[0], ast.Constant)
                                           and isinstance(node.args[0].value, str))):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, bad


def test_mo_is_compiled_from_the_po() -> None:
    po = i18n_catalog.po_path("zh")
    compiled = i18n_catalog.mo_bytes(i18n_catalog.read_po(po))
    assert po.with_suffix(".mo").read_bytes() == compiled, \
        "run: python -m vizapp.i18n compile"


def test_language_choice() -> None:
    assert i18n.normalize("zh-CN") == "zh" and i18n.normalize("EN_gb") == "en"
    assert i18n.normalize("fr") is None
    assert i18n.from_accept_language("fr;q=1, zh-CN;q=0.8, en;q=0.5") == "zh"
    assert i18n.from_accept_language("en-US,en;q=0.9,zh;q=0.8") == "en"
    assert i18n.from_accept_language("de, fr") is None


def test_lazy_message_is_english_text_and_renders_in_zh() -> None:
    m = i18n.msg("channels {a} → {b}", a=64, b=128) + "; " + i18n.msg("no parameters")
    assert m == "channels 64 → 128; no parameters"  # English code sees the same string
    m = pickle.loads(pickle.dumps(m))  # crosses from the worker processes
    with i18n.using("zh"):
        assert i18n.tr(m) == "通道 64 → 128; 无参数"
        assert i18n.msg("channels {a} → {b}", a=1, b=2) == "通道 1 → 2"
    assert i18n.tr(m) == "channels 64 → 128; no parameters"


def test_one_cached_analysis_serves_both_languages() -> None:
    from vizapp.analysis import analyze_spec
    from vizapp.zoo import resolve

    a = analyze_spec(resolve("resnet18"))
    b3 = a.block("b3").explanation
    assert "residual units" in b3 and not HAN.search(b3)
    with i18n.using("zh"):
        z = i18n.localize(a)
        assert i18n.localize(a) is z  # one localized copy per language
    assert "残差单元" in z.block("b3").explanation and "64→128" in z.block("b3").explanation
    assert a.block("b3").explanation == b3  # the shared record is unchanged
    assert z.total_params == a.total_params
    conv = next(n for n in z.nodes if n.op == "conv2d")
    assert "卷积核" in conv.explanation and "步幅" in conv.explanation


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vizapp", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


def test_cli_table_in_chinese() -> None:
    r = run_cli("table", "resnet18", "--explain", "--lang", "zh")
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()[1]
    assert "名称" in head and "输出形状" in head and "感受野" in head
    assert "残差单元" in r.stdout and "参数总数" in r.stdout
    en = run_cli("table", "resnet18")
    assert "output shape" in en.stdout and not HAN.search(en.stdout)


def test_cli_bad_language_is_one_line() -> None:
    r = run_cli("--lang", "xx", "presets")
    assert r.returncode == 2 and "--lang" in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------------------------------------ the app
PAGES = ["graph", "shapes", "compare", "batchnorm", "features", "schedules", "train", "run",
         "code"]


def _texts(at) -> str:
    parts = [e.value for e in at.header] + [e.value for e in at.caption] + \
        [e.value for e in at.markdown] + [w.label for w in at.selectbox] + \
        [e.label for e in at.expander] + [b.label for b in at.button]
    return "\n".join(str(p) for p in parts)


# each page's own header and one sentence of its body (not the sidebar or the header strip)
BODY = {"graph": ("计算图", "点击图中的节点或块"), "shapes": ("形状", "逐行计算过程"),
        "compare": ("对比", "各阶段按名称配对"), "batchnorm": ("批量规范化", "每个通道"),
        "features": ("特征图", "每个小图是一个通道"), "schedules": ("学习率调度", "每一轮生效的学习率"),
        "train": ("训练", "应用自带的小数据集"), "run": ("运行", "计时的前向"),
        "code": ("代码", "独立 PyTorch 代码")}


@pytest.mark.parametrize("page", PAGES)
def test_app_in_chinese_on_every_page(page: str) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "vizapp" / "main.py"), default_timeout=120)
    at.query_params["lang"] = "zh"
    at.query_params["model"] = "resnet18"
    at.run()
    if page != "graph":
        at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    text = _texts(at)
    assert "架构旋钮" in text and "模型族" in text, text[:500]  # the sidebar
    assert "输入" in text and "个参数" in text  # the header strip
    assert at.query_params.get("lang") in ("zh", ["zh"])
    head, sentence = BODY[page]
    assert head in [h.value for h in at.header], [h.value for h in at.header]
    body = text + "\n" + "\n".join(str(e.value) for e in at.subheader) + "\n" + \
        "\n".join(str(e.value) for e in at.info)
    assert sentence in body, body[-800:]


def test_app_english_by_default_and_bad_lang_is_a_message() -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "vizapp" / "main.py"), default_timeout=120)
    at.query_params["lang"] = "<b>xx</b>"
    at.run()
    assert not at.exception
    assert "Architecture knobs" in _texts(at) and not HAN.search(_texts(at).replace("简体中文", ""))
    assert any("not a language" in w.value for w in at.warning)


# ------------------------------------------------------------------------------ a real browser
def test_browser_opens_lang_zh_on_every_page() -> None:
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright

    from vizapp.testing import free_port, launch_chromium, start_streamlit, stop_streamlit

    port = free_port()
    proc = start_streamlit(ROOT / "vizapp" / "main.py", port)
    shots = ROOT / "artifacts" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            for key in PAGES:
                path = "" if key == "graph" else key  # graph is the main page
                page.goto(f"http://localhost:{port}/{path}?model=resnet18&lang=zh")
                page.wait_for_selector("[data-testid='stApp']", timeout=120_000)
                page.wait_for_selector("[data-test-script-state='notRunning']", timeout=120_000)
                page.wait_for_timeout(1500)
                page.screenshot(path=str(shots / f"zh_{key}.png"))
                body = page.inner_text("body")
                assert "架构旋钮" in body and "计算图" in body, body[:400]
                assert BODY[key][0] in body and BODY[key][1] in body, (key, body[:600])
                assert "Page not found" not in body
            browser.close()
    finally:
        stop_streamlit(proc)


# ------------------------------------------------------------------------------ nothing left in English
# An English sentence: three or more English words in a row (a word: letters, at most an initial
# capital — so Conv2d, BatchNorm2d, ReLU, running_mean, nn.Linear, b1.conv are not words).
_ENGLISH_RUN = re.compile(r"(?<![\w.\-/'])[A-Za-z][a-z]*(?:[ ]+[A-Za-z][a-z]*){2,}(?![\w/])")
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_TAG = re.compile(r"<[^>]*>")
_STYLE = re.compile(r"<(style|script)\b.*?</\1>", re.S)
_PLOTLY_FIELD = re.compile(r"%\{[^}]*\}")
# quoted on purpose: PyTorch's own error text, shown beside its Chinese explanation
QUOTED = ("mat1 and mat2 shapes cannot be multiplied",)
# the proto fields a person reads (ids, urls, css, icons, types are not text)
_READ_FIELDS = {"body", "label", "help", "options", "placeholder", "content", "text", "caption",
                "code_text"}


def english_runs(text: str) -> list[str]:
    """The English sentences (3+ English words in a row) of ``text``, outside `code`, HTML tags
    and plotly's %{…} fields; runs of single capitals (N C H W) are symbols, not words."""
    for quoted in QUOTED:
        text = text.replace(quoted, " ")
    text = _PLOTLY_FIELD.sub(" ", _TAG.sub(" ", _CODE_SPAN.sub(" ", _STYLE.sub(" ", text))))
    return [r for r in (m.group(0) for m in _ENGLISH_RUN.finditer(text))
            if not all(len(w) == 1 and w.isupper() for w in r.split())]


def _plotly_texts(spec: str) -> list[str]:
    out: list[str] = []

    def walk(o, key=""):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in ("text", "hovertemplate", "name", "ticktext", "texttemplate") or \
                        key == "title":
                    out.extend([v] if isinstance(v, str) else
                               [x for x in v if isinstance(x, str)] if isinstance(v, list) else [])
                walk(v, k)
        elif isinstance(o, list):
            for v in o:
                walk(v, key)

    walk(json.loads(spec))
    return out


def _component_texts(data: str) -> list[str]:
    """The graph viewer's data: the words its script puts in, and the SVG's <text> elements."""
    d = json.loads(data)
    words = d.get("text") or {}
    out = [words.get("hint", "")] + [v for w in words.values() if isinstance(w, dict)
                                     for v in w.values()]
    out += [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", d.get("svg") or "")]
    return out


def visible_texts(at) -> list[str]:
    """Every text of an AppTest run that a person reads: markdown, labels, help, options,
    alerts, plain-text code (not Python), table headers and cells, chart titles, axes, legends
    and hover templates, the graph viewer's buttons, hint and SVG labels."""
    from google.protobuf.message import Message

    out: list[str] = []

    def proto(m, python=False):
        python = python or getattr(m, "language", None) == "python"
        for fd, val in m.ListFields():
            vals = val if isinstance(val, (list, tuple)) or type(val).__name__.startswith(
                "Repeated") else [val]
            for v in vals:
                if isinstance(v, Message):
                    proto(v, python)
                elif fd.name == "spec" and isinstance(v, str):
                    out.extend(_plotly_texts(v))
                elif fd.name == "json" and isinstance(v, str) and v.startswith("{"):
                    out.extend(_component_texts(v))
                elif fd.name == "html_content":
                    out.append(v)
                elif fd.name == "columns" and isinstance(v, str) and v.startswith("{"):
                    out.extend(c.get("label", "") for c in json.loads(v).values()
                               if isinstance(c, dict))
                elif fd.name == "data" and isinstance(v, bytes):
                    import pyarrow as pa
                    table = pa.ipc.open_stream(v).read_all()
                    out.extend(map(str, table.column_names))
                    out.extend(x for col in table.columns for x in col.to_pylist()
                               if isinstance(x, str))
                elif fd.name in _READ_FIELDS and isinstance(v, str) and not \
                        (fd.name == "code_text" and python):
                    out.append(v)

    def walk(node):
        p = getattr(node, "proto", None)
        if isinstance(p, Message):
            proto(p)
        children = getattr(node, "children", None)
        for child in (children.values() if isinstance(children, dict) else []):
            walk(child)

    walk(at._tree)
    return out


def test_english_run_finds_sentences_not_symbols() -> None:
    assert english_runs("Output shapes hidden: type C×H×W for each layer") == [
        "Output shapes hidden", "W for each layer"]
    assert english_runs("Exercise: predict the shapes") == ["predict the shapes"]
    assert english_runs("scroll to zoom · drag to pan") == ["scroll to zoom", "drag to pan"]
    assert english_runs("%{hovertext}<br>%{y:,} channels of the map") == ["channels of the map"]
    assert english_runs("<style>/* less space at the top */ .a { b: 1 }</style><b>a b</b>") == []
    for symbols in ("卷积层 Conv2d 1→6，卷积核 5", "N C H W", "H_out = ⌊(H + 2P − D·(K−1) − 1)/S⌋ + 1",
                    "`Conv2d 7 /2` 中的 **/2**", "nn.Linear(576, 120)", "running_mean, momentum",
                    "lenet (fit_input=false)", "PyTorch 报错：mat1 and mat2 shapes cannot be "
                    "multiplied (1x576 and 400x120)", "BatchNorm2d ReLU MaxPool2d"):
        assert english_runs(symbols) == [], symbols


# pages in Chinese with several models, exercise mode, and impossible configurations
ZH_CASES = [(p, "model=resnet18") for p in PAGES] + [
    ("shapes", "model=lenet&exercise=1"), ("graph", "model=googlenet&exercise=1"),
    ("graph", "model=densenet121"), ("shapes", "model=googlenet"),
    ("batchnorm", "model=lenet-bn"), ("train", "model=lenet"),
    ("shapes", "model=custom"), ("graph", "model=torchvision:resnet18"),  # translated titles
    ("shapes", "model=lenet&fit_input=false&input=1,32,32"),  # the shapes fail at fc1
    ("train", "model=lenet&fit_input=false&input=1,32,32"),
    ("shapes", "model=resnet18&blocks=2,2,2,2,2&widths=64,128"),  # validate() refuses
    ("shapes", "model=densenet121&compression=1.5&kernel=3&input=1,x,2"),  # bounds, knob, input
]


@pytest.mark.parametrize("page,query", ZH_CASES, ids=[f"{p}-{q}" for p, q in ZH_CASES])
def test_no_english_sentence_left_in_chinese(page: str, query: str) -> None:
    """The page is first opened in English, then in Chinese: what the pages cache across
    sessions (st.cache_data) must not carry the first visitor's language to the next."""
    from streamlit.testing.v1 import AppTest

    for lang in ("en", "zh"):
        at = AppTest.from_file(str(ROOT / "vizapp" / "main.py"), default_timeout=180)
        at.query_params["lang"] = lang
        for key, value in (kv.split("=", 1) for kv in query.split("&")):
            at.query_params[key] = value
        at.run()
        if page != "graph":
            at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, [e.value for e in at.exception]
    texts = visible_texts(at)
    assert sum(len(t) for t in texts) > 500 and any(HAN.search(t) for t in texts)  # it read the page
    left = {t[:200]: runs for t in texts if (runs := english_runs(t))}
    assert not left, left


def _bold_marks_work(text: str) -> bool:
    """Whether every ``**`` of ``text`` can open/close bold by CommonMark's flanking rules (a
    closing ``**`` after Chinese punctuation must be followed by a space or punctuation:
    ``**合计：**11`` shows its asterisks; ``**合计**：11`` is bold). Placeholders stand for a
    value such as a number or a name."""
    text = _CODE_SPAN.sub("`c`", re.sub(r"\{[^{}]*\}", "x", text))

    def punct(c: str) -> bool:
        return unicodedata.category(c).startswith(("P", "S"))

    marks = [m.start() for m in re.finditer(r"(?<!\*)\*\*(?!\*)", text)]
    for k, i in enumerate(marks):
        before = text[i - 1] if i else " "
        after = text[i + 2] if i + 2 < len(text) else " "
        if k % 2 == 0:  # opens
            ok = not after.isspace() and (not punct(after) or before.isspace() or punct(before))
        else:  # closes
            ok = not before.isspace() and (not punct(before) or after.isspace() or punct(after))
        if not ok:
            return False
    return True


def test_bold_survives_in_both_languages(catalog) -> None:
    assert not _bold_marks_work("**合计：**{p} 个参数") and _bold_marks_work("**合计**：{p} 个参数")
    bad = [(mid, tr) for mid, tr in catalog.items() if isinstance(tr, str) and "**" in tr
           and _bold_marks_work(mid) and not _bold_marks_work(tr)]
    assert not bad, bad


def test_train_page_live_in_chinese(server, browser) -> None:
    """The live part of the Train page reruns as a fragment, which skips the script's top where
    the language is set: its progress, chart and the worker thread's stop message must still
    be Chinese while training runs."""
    import time

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/train?model=lenet-bn&lang=zh", wait_until="domcontentloaded")
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=120_000)
    main = page.locator("[data-testid='stMain']")
    slider = page.get_by_role("slider", name="轮数")  # epochs: long enough to stop mid-run
    slider.focus()
    slider.press("End")
    page.wait_for_timeout(500)
    page.wait_for_selector("[data-test-script-state='notRunning']", timeout=120_000)
    page.locator("[data-testid='stBaseButton-primary']").filter(has_text="训练").click()
    stop = page.get_by_role("button", name=re.compile("停止"))
    chart = page.locator("[data-testid='stPlotlyChart']").first
    t0, seen = time.time(), ""
    while time.time() - t0 < 120:  # several fragment reruns, while the run goes on
        progress = page.locator("[data-testid='stProgress']").first
        seen = chart.inner_text() if chart.count() else seen
        if stop.count() and progress.count() and re.search(r"第 \d+/\d+ 步", progress.inner_text()) \
                and "lenet-bn 训练" in seen:
            break
        time.sleep(0.5)
    assert "lenet-bn 训练" in seen and "轮次" in seen and "损失" in seen, seen
    assert not english_runs(seen) and "epoch" not in seen and "train" not in seen, seen
    stop.click()
    t0 = time.time()
    while time.time() - t0 < 120 and "用户在" not in main.inner_text():
        time.sleep(0.5)
    text = main.inner_text()
    assert re.search(r"用户在 \d+ 步后停止", text), text[-800:]
    assert "stopped by the user" not in text and "not run (stopped)" not in text
    page.close()


def _bad_inputs():
    """(what, call that raises, exception class, the English text users saw before)."""
    from tests.test_train import _zip
    from vizapp.custom import CodeError, evaluate, url
    from vizapp.labs import bn, data, features, schedules

    return [
        ("import", lambda: evaluate("import os"), CodeError,
         "line 1: imports are not needed: nn, torch.nn and OrderedDict are already there"),
        ("dunder", lambda: evaluate("net = __import__('os')"), CodeError,
         "line 1: names like __import__ (double underscores) are not allowed"),
        ("class", lambda: evaluate("class Net(nn.Module):\n    pass\nnet = Net()"), CodeError,
         "line 1: class Net has no forward(self, x): the app needs it to know what the layers "
         "do with the input"),
        ("loop", lambda: evaluate("layers = []\nfor i in 3:\n    layers.append(i)"), CodeError,
         "line 2: cannot loop over a value of type int"),
        ("typo", lambda: evaluate("net = nn.Conv2x(1, 2, 3)"), CodeError,
         "line 1: torch.nn has no layer Conv2x: did you mean nn.Conv2d?"),
        ("empty", lambda: evaluate("  "), CodeError,
         "the box is empty: write a model, e.g. net = nn.Sequential(nn.Flatten(), "
         "nn.Linear(784, 10))"),
        ("link", lambda: url.decode("abc"), CodeError,
         "the link's code parameter is not in vizapp's format (it starts with z1.)"),
        ("not a zip", lambda: data.class_zip(b"not a zip", (1, 28, 28), 10), data.DataError,
         "upload is not a zip file: upload a .zip of class folders (cat/1.png, dog/7.png …)"),
        ("one folder", lambda: data.class_zip(_zip({f"cat/{i}.png": b"x" for i in range(12)}),
                                              (1, 28, 28), 10),
         data.DataError, "upload has 1 class folder(s): put images in at least 2 folders, one "
                         "per class (cat/1.png, dog/7.png …)"),
        ("few images", lambda: data.class_zip(_zip({"cat/1.png": b"x", "dog/1.png": b"x"}),
                                              (1, 28, 28), 10),
         data.DataError, "upload holds 2 images: give at least 10"),
        ("not an image", lambda: data.class_zip(_zip({"cat/notes.txt": b"x"}), (1, 28, 28), 10),
         data.DataError, "upload: 'cat/notes.txt' is not an image (.png, .jpg, .jpeg, .bmp, "
                         ".gif, .webp, .tif, .tiff): remove it from the zip"),
        ("epochs", lambda: schedules.lr_curve("StepLR", epochs=0), schedules.ScheduleError,
         "epochs must be between 1 and 100000 (got 0)"),
        ("param", lambda: schedules.lr_curve("ExponentialLR", step_size=3),
         schedules.ScheduleError,
         "ExponentialLR has no parameter 'step_size'; parameters: gamma"),
        ("one cycle", lambda: schedules.lr_curve("OneCycleLR", epochs=1), schedules.ScheduleError,
         "OneCycleLR needs at least 2 epochs"),
        ("momentum", lambda: bn.parse_momentum("fast"), bn.BNError,
         "momentum must be a number in (0, 1] or 'none', got 'fast'"),
        ("image", lambda: features.decode_image(b"not an image"), features.FeatureError,
         "the file is not a PNG or JPEG image this page can read (12 bytes)"),
    ]


@pytest.mark.parametrize("case", range(16))
def test_refusals_render_in_chinese(case: int) -> None:
    """Errors a user meets with bad input (hostile code, a wrong zip, an impossible schedule
    parameter …): raised in English they keep their English text (byte for byte) and render
    in Chinese with tr(); raised while the session is in Chinese they are Chinese at once."""
    what, call, exc_cls, english = _bad_inputs()[case]
    with pytest.raises(exc_cls) as info:
        call()
    message = getattr(info.value, "message", None) or info.value.args[0]
    assert str(info.value) == english and str(message) == english, what
    assert isinstance(message, i18n.Msg), what  # lazy: renders in the session's language
    with i18n.using("zh"):
        zh = i18n.tr(message)
        with pytest.raises(exc_cls) as direct:
            call()
    assert str(direct.value) == zh, what
    assert re.search(r"[\u4e00-\u9fff]", zh), (what, zh)
    assert not english_runs(zh), (what, zh, english_runs(zh))


def test_zh_words_that_were_left_in_english_or_wrong() -> None:
    """DenseNet's blocks knob was labelled 残差块数 (residual blocks); the Graph details' node
    settings (kernel, stride, padding) and the code box's fix button stayed English."""
    from streamlit.testing.v1 import AppTest

    from components import page_graph
    from tests.test_app import MAIN
    from vizapp.analysis import analyze_spec
    from vizapp.custom import fix
    from vizapp.zoo import resolve
    from vizapp.zoo.custom import example
    at = AppTest.from_file(MAIN, default_timeout=120)
    at.query_params.update({"model": "densenet", "lang": "zh"})
    at.run()
    labels = [w.label for w in at.sidebar.text_input] + [w.label for w in at.sidebar.slider]
    assert "每个稠密块的卷积层数" in labels and "残差块数" not in labels, labels
    at.session_state[page_graph.SEL_KEY] = "n-conv"  # DenseNet's stem: 7×7, stride 2
    at.run()
    captions = " ".join(c.value for c in at.caption)
    assert "卷积核" in captions and "步幅" in captions and "stride" not in captions, captions
    spec = resolve("lenet-bug")
    a = analyze_spec(spec)
    fx = fix.linear_in_features(spec.config.code, a.failure.module_path, a.failure.features,
                                spec.config.input_shape)
    assert str(fx.label) == "Use nn.Linear(256, 120)"
    with i18n.using("zh"):
        assert i18n.tr(fx.label) == "改用 nn.Linear(256, 120)"
    assert example("lenet_bug")  # the preset the box shows for this bug
