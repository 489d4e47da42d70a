"""Train lab: real training on the CPU, checked against independent computations (a
hand-written replay of the loop, the LR schedules page's curves, closed-form facts)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import re
import threading
import time
import zipfile

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from vizapp.cli import main as cli
from vizapp.labs import data as D
from vizapp.labs import schedules as S
from vizapp.labs import train as T
from vizapp.runtime import memory
from vizapp.runtime.lock import lock_for
from vizapp.zoo import build_model, resolve

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def digits():
    return D.digits((1, 28, 28), 10, seed=0)


@pytest.fixture(scope="module")
def small():
    return D.shapes((1, 28, 28), 10, n=160, seed=1)


def curves(r):
    """The epoch records without the wall-clock fields."""
    return [(e.train_loss, e.train_acc, e.val_loss, e.val_acc, e.lr, e.gap) for e in r.epochs]


def lenet_bn():
    return build_model(resolve("lenet-bn"), seed=0)


# ----------------------------------------------------------------------------- learning
def test_lenet_bn_learns_digits(digits):
    r = T.train(lenet_bn(), digits, T.TrainSettings(lr=1.0, epochs=3, batch_size=64))
    assert r.status == "done" and len(r.epochs) == 3 and r.steps == 3 * 23
    assert r.epochs[-1].val_acc > 0.6  # chance is 0.1
    assert r.epochs[-1].train_loss < r.epochs[0].train_loss
    # the confusion matrix counts every validation image once and agrees with val_acc
    cm = np.array(r.confusion)
    assert cm.sum() == len(digits.y_val)
    assert np.trace(cm) / cm.sum() == pytest.approx(r.epochs[-1].val_acc, abs=1e-6)
    assert all(t != p for _, t, p, _ in r.worst)


def test_identical_seeds_identical_curves(small):
    s = T.TrainSettings(lr=0.5, epochs=2, batch_size=32, seed=3)
    a, b = (T.train(lenet_bn(), small, s) for _ in range(2))
    assert curves(a) == curves(b)
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)
    c = T.train(lenet_bn(), small, T.TrainSettings(lr=0.5, epochs=2, batch_size=32, seed=4))
    assert curves(c) != curves(a)  # another batch order


def test_train_leaves_the_callers_model_alone(small):
    m = lenet_bn()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    T.train(m, small, T.TrainSettings(epochs=1, batch_size=32))
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())


def test_bn_running_stats_equal_a_replay(small):
    """A hand-written loop with the documented batch order replays training; the running
    statistics it computes by hand (EMA of batch mean and unbiased variance, momentum 0.1)
    equal the lab's BatchNorm buffers — and its weights equal the lab's weights."""
    s = T.TrainSettings(lr=0.3, epochs=2, batch_size=48, seed=5)
    res = T.train(lenet_bn(), small, s)
    model = lenet_bn()
    opt = torch.optim.SGD(model.parameters(), lr=0.3)
    names = [n for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    mods = dict(model.named_modules())
    ema = {n: [torch.zeros(mods[n].num_features), torch.ones(mods[n].num_features)]
           for n in names}

    def hook(name):
        def f(_m, args):
            x = args[0].detach()
            dims = [0] if x.dim() == 2 else [0, 2, 3]
            mean, var = x.mean(dims), x.var(dims, unbiased=True)
            ema[name][0] = 0.9 * ema[name][0] + 0.1 * mean
            ema[name][1] = 0.9 * ema[name][1] + 0.1 * var
        return f

    for n in names:
        mods[n].register_forward_pre_hook(hook(n))
    x, y = small.x_train, small.y_train
    for epoch in range(2):
        order = torch.randperm(len(y), generator=torch.Generator().manual_seed(5 * 1009 + epoch))
        for a in range(0, len(y), 48):
            idx = order[a:a + 48]
            if len(idx) < 2:
                continue
            model.train()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    for n in names:
        torch.testing.assert_close(res.state_dict[f"{n}.running_mean"], ema[n][0],
                                   rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(res.state_dict[f"{n}.running_var"], ema[n][1],
                                   rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(res.state_dict["conv1.weight"], model.conv1.weight.detach(),
                               rtol=1e-4, atol=1e-6)


def test_records_bn_watch_and_steps(small):
    got = []
    r = T.train(lenet_bn(), small, T.TrainSettings(epochs=2, batch_size=16, log_every=2),
                emit=got.append)
    steps = [g for g in got if isinstance(g, T.StepRecord)]
    bn = [g for g in got if isinstance(g, T.BNRecord)]
    watch = [g for g in got if isinstance(g, T.WatchRecord)]
    assert [s.step for s in steps] == sorted({s.step for s in steps}) and steps[-1].step == r.steps
    assert {b.layer for b in bn} == {"bn1", "bn2", "bn3", "bn4"}
    last = [b for b in bn if b.layer == "bn1"][-1]
    assert last.running_mean == pytest.approx(r.state_dict["bn1.running_mean"].tolist())
    assert watch and all(w.layer == "act4" and w.p15 <= w.p50 <= w.p85 for w in watch)
    assert all(np.isfinite(e.gap) and e.gap > 0 for e in r.epochs)  # BN: train ≠ eval


def test_no_bn_gives_zero_train_eval_gap(small):
    r = T.train(build_model(resolve("lenet"), seed=0), small, T.TrainSettings(epochs=1))
    assert r.epochs[0].gap == 0.0


# ----------------------------------------------------------------------------- schedules
@pytest.mark.parametrize("name,args", [
    ("StepLR", (("step_size", 2), ("gamma", 0.5))),
    ("OneCycleLR", (("max_lr", 0.4),)),
    ("CosineAnnealingWarmRestarts", (("T_0", 2), ("T_mult", 2))),
    ("LambdaLR", (("fn", "warmup_constant"), ("warmup", 3))),
])
def test_schedule_lrs_equal_the_schedules_page(small, name, args):
    s = T.TrainSettings(lr=0.2, epochs=6, batch_size=128, schedule=name, schedule_args=args)
    r = T.train(lenet_bn(), small, s)
    want = S.lr_curve(name, 6, 0.2, **dict(args)).lr
    assert [e.lr for e in r.epochs] == pytest.approx(list(want), rel=1e-12)


@pytest.mark.parametrize("name", list(S.SCHEDULES))
@pytest.mark.parametrize("epochs", [3, 10, 40])
def test_every_schedule_acts_within_the_run_by_default(name, epochs):
    """With the run's defaults every schedule moves the lr away from lr₀ within the run
    (even ReduceLROnPlateau, if the loss stops improving); torch's own defaults, made for
    90-epoch ImageNet runs, leave StepLR, MultiStepLR, CosineAnnealingLR (T_max 100) close
    to or exactly at lr₀ in a 10-epoch run."""
    p = S.run_params(name, epochs, 0.5, {})
    assert S.changes_lr(name, epochs, 0.5, p)
    lrs = S.lr_curve(name, epochs, 0.5, **p).lr
    if name != "ReduceLROnPlateau":  # its cuts depend on the loss
        assert max(lrs) / min(lrs) > 1.5, lrs  # visibly: by half or more
    if epochs == 10 and name in ("StepLR", "MultiStepLR"):
        assert not S.changes_lr(name, 10, 0.5, S.check_params(name, {}))


def test_run_defaults_are_the_run_s_length():
    assert S.run_defaults("CosineAnnealingLR", 12, 0.1) == {"T_max": 12}
    assert S.run_defaults("StepLR", 12, 0.1) == {"step_size": 4}
    assert S.run_defaults("MultiStepLR", 90, 0.1) == {"milestones": (30, 60, 80)}
    assert S.run_defaults("OneCycleLR", 5, 0.3) == {"max_lr": 0.3}
    lrs = S.lr_curve("ExponentialLR", 10, 1.0, **S.run_defaults("ExponentialLR", 10, 1.0)).lr
    assert lrs[-1] == pytest.approx(0.1, rel=0.1)  # ends near lr₀/10
    lrs = S.lr_curve("CosineAnnealingWarmRestarts", 12, 1.0,
                     **S.run_defaults("CosineAnnealingWarmRestarts", 12, 1.0)).lr
    assert [e for e in range(1, 12) if lrs[e] > lrs[e - 1]] == [4]  # one restart, at a third
    # given parameters win over the run's defaults
    assert S.run_params("StepLR", 12, 0.1, {"step_size": 5})["step_size"] == 5


def test_a_schedule_that_is_a_no_op_over_the_run_is_recognised():
    assert not S.changes_lr("StepLR", 10, 0.5, {"step_size": 10})
    assert S.changes_lr("StepLR", 10, 0.5, {"step_size": 9})
    # ReduceLROnPlateau: 9 steps in 10 epochs; the first sets the best loss, a cut needs
    # patience + 1 bad ones after it
    assert not S.changes_lr("ReduceLROnPlateau", 10, 0.5, {"patience": 8})
    assert S.changes_lr("ReduceLROnPlateau", 10, 0.5, {"patience": 7})
    assert not S.changes_lr("ExponentialLR", 10, 0.5, {"gamma": 1.0})
    assert not S.changes_lr("CosineAnnealingLR", 1, 0.5, {"T_max": 5})  # one epoch: no step


def test_training_without_schedule_args_uses_the_run_s_defaults(small):
    """CosineAnnealingLR with no parameters in a 5-epoch run anneals over those 5 epochs
    (T_max = 5), not over torch's 100."""
    r = T.train(lenet_bn(), small, T.TrainSettings(lr=0.4, epochs=5, batch_size=128,
                                                   schedule="CosineAnnealingLR"))
    got = [e.lr for e in r.epochs]
    assert got == pytest.approx(list(S.lr_curve("CosineAnnealingLR", 5, 0.4, T_max=5).lr))
    assert got[-1] < 0.1 * 0.4 < S.lr_curve("CosineAnnealingLR", 5, 0.4).lr[-1]


def test_the_lr_chart_starts_at_zero():
    from vizapp.render import plots_train

    rec = [T.StepRecord(1, 1, 1.0, 0.5, 0.8, 0.1, 0.5), T.StepRecord(2, 1, 0.9, 0.6, 0.7, 0.2, 1.0)]
    layout = plots_train.curves({"a": {"step": rec, "epoch": ()}}).to_plotly_json()["layout"]
    assert layout["yaxis3"]["rangemode"] == "tozero"
    assert layout["yaxis3"]["anchor"] == "x3" and layout["annotations"][2]["text"] == \
        "learning rate"  # the third panel is the lr's


# ----------------------------------------------------------------------------- stopping
def test_stop_ends_a_run_early(small):
    run = T.TrainRun([("a", lenet_bn(), {})], small,
                     T.TrainSettings(epochs=100, batch_size=8, log_every=1)).start()
    deadline = time.time() + 60
    while not run.view()["a"]["step"] and time.time() < deadline:
        time.sleep(0.02)
    run.stop()
    run.thread.join(60)
    v = run.view()["a"]
    assert v["result"].status == "stopped" and "stopped by the user" in v["result"].message
    assert v["result"].steps < 100 * 16 and v["progress"].phase == "stopped"


@contextlib.contextmanager
def _device_held():
    """Another "session" holds the CPU's lock until the block ends."""
    release, holding = threading.Event(), threading.Event()

    def holder():
        with lock_for("cpu").hold("test"):
            holding.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    holding.wait(10)
    try:
        yield
    finally:
        release.set()
        t.join()


def test_queued_run_shows_its_place_and_can_be_stopped(small):
    with _device_held():
        run = T.TrainRun([("a", lenet_bn(), {})], small, T.TrainSettings(epochs=1)).start()
        deadline = time.time() + 30
        while run.view()["a"]["progress"].queue_position != 1 and time.time() < deadline:
            time.sleep(0.05)
        assert run.view()["a"]["progress"].phase == "queued"
        run.stop()
        run.thread.join(30)
        assert "cancelled while waiting" in run.view()["a"]["result"].message


def test_a_gone_session_stops_the_run_within_a_step(small):
    """alive() is asked before every step: once it says the session is gone, the very next
    step does not run, and the result says why."""
    gone = threading.Event()

    def emit(r):
        if isinstance(r, T.StepRecord) and r.step == 3:
            gone.set()

    r = T.train(lenet_bn(), small, T.TrainSettings(epochs=5, batch_size=16, log_every=1),
                emit=emit, alive=lambda: not gone.is_set())
    assert r.status == "stopped" and r.steps == 3 and len(r.epochs) == 0
    assert r.message == T.gone_message(3) and "session that started it is gone" in r.message
    assert r.state_dict  # the weights of the 3 steps are still returned


def test_a_gone_session_leaves_the_queue_and_skips_the_next_run(small):
    gone = threading.Event()
    with _device_held():
        run = T.TrainRun([("a", lenet_bn(), {}), ("b", lenet_bn(), {})], small,
                         T.TrainSettings(epochs=1), alive=lambda: not gone.is_set()).start()
        deadline = time.time() + 30
        while run.view()["a"]["progress"].phase != "queued" and time.time() < deadline:
            time.sleep(0.05)
        gone.set()
        run.thread.join(30)
        assert not run.running
        v = run.view()
        assert v["a"]["result"].status == "stopped" and v["a"]["result"].steps == 0
        assert "session that started it is gone" in v["a"]["result"].message
        assert v["b"]["result"] is None and v["b"]["progress"].phase == "stopped"


def test_session_watch_allows_a_reconnect_within_the_grace_period():
    from vizapp.runtime.sessions import SessionWatch, current_session_watch

    now, active = [0.0], [True]
    w = SessionWatch(lambda: active[0], grace_s=30, clock=lambda: now[0])
    assert w()
    active[0] = False
    now[0] = 10.0
    assert w()  # disconnected 0 s ago
    now[0] = 35.0
    assert w()  # 25 s: still within the grace period
    active[0] = True
    assert w()  # reconnected: the clock starts again next time
    active[0], now[0] = False, 50.0
    assert w()
    now[0] = 79.0
    assert w()
    now[0] = 80.0
    assert not w()  # 30 s in a row
    active[0] = True
    assert not w()  # gone stays gone
    assert current_session_watch() is None  # no Streamlit server here


# ----------------------------------------------------------------------------- one run per key
def _join(reg, data, s, watcher, label="a", spec_name="lenet-bn"):
    """What the Train page does on a press: the run of this key, watched by ``watcher``."""
    spec = resolve(spec_name)
    key = T.run_key([(label, spec, s)], "small")

    def make():
        return T.TrainRun([T.Job(label, build_model(spec, seed=s.seed), {}, s, spec,
                                 owned=True)], data, s)
    return reg.join(key, make, watcher)


def _wait_for(fn, timeout=30):
    deadline = time.time() + timeout
    while not fn() and time.time() < deadline:
        time.sleep(0.02)
    assert fn()


def _ended(*joined, timeout=120):
    for j in joined:
        j.run.thread.join(timeout)
        assert not j.run.running


def test_two_watchers_of_one_key_share_one_run(small):
    """Two sessions press Train with the same key while the run waits for the device: one
    run is started, both watch it; a third press after it finished gets the stored run at
    once (no new run); another seed is another run, queued behind."""
    reg = T.RunRegistry()
    s = T.TrainSettings(lr=0.5, epochs=2, batch_size=32, seed=3)
    with _device_held():
        a = _join(reg, small, s, lambda: True)
        b = _join(reg, small, dataclasses.replace(s, device="cpu"), lambda: True)  # same kind
        assert (a.how, b.how) == ("started", "joined") and b.run is a.run
        assert reg.started == 1 and a.run.watching() == 2
        _wait_for(lambda: a.run.view()["a"]["progress"].phase == "queued")  # a's run first
        c = _join(reg, small, dataclasses.replace(s, seed=4), lambda: True)
        assert c.how == "started" and c.run is not a.run and reg.started == 2
        _wait_for(lambda: c.run.view()["a"]["progress"].queue_position == 2)
        assert c.run.view()["a"]["progress"].phase == "queued"  # behind the holder and a
    _ended(a, c)
    assert a.run.view()["a"]["result"].status == "done"
    d = _join(reg, small, s, lambda: True)
    assert d.how == "stored" and d.run is a.run and reg.started == 2
    assert not d.run.running and d.run.view()["a"]["result"].status == "done"


def test_many_sessions_pressing_at_once_start_one_run(small):
    reg = T.RunRegistry()
    s = T.TrainSettings(lr=0.5, epochs=1, batch_size=32, seed=8)
    out, go = [], threading.Event()

    def press():
        go.wait(10)
        out.append(_join(reg, small, s, lambda: True))

    threads = [threading.Thread(target=press) for _ in range(8)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(120)
    assert reg.started == 1 and len({id(j.run) for j in out}) == 1
    assert sorted(j.how for j in out).count("started") == 1
    _ended(out[0])


def test_the_same_key_run_twice_gives_identical_curves(small):
    """Sharing one run is honest only if the run is reproducible: the key trained twice on
    fresh servers (nothing stored) gives the same step, epoch and BatchNorm records and the
    same weights; another seed does not."""
    s = T.TrainSettings(lr=0.5, epochs=2, batch_size=32, seed=3, schedule="StepLR")

    def once(settings):
        j = _join(T.RunRegistry(), small, settings, lambda: True)
        _ended(j)
        return j.run.view()["a"]

    a, b, c = once(s), once(s), once(dataclasses.replace(s, seed=5))

    def facts(v):
        return ([(r.step, r.loss, r.acc, r.lr) for r in v["step"]], curves(v["result"]),
                [(r.step, r.layer, r.running_mean, r.running_var) for r in v["bn"]])

    assert facts(a) == facts(b) and len(a["epoch"]) == 2
    assert all(torch.equal(a["result"].state_dict[k], b["result"].state_dict[k])
               for k in a["result"].state_dict)
    assert facts(c)[1] != facts(a)[1]


def test_a_shared_run_goes_on_while_anyone_watches(small):
    """One of two sessions leaves (its tab closed): the run goes on for the other; when
    nobody is left it stops, is not stored, and the next press trains again."""
    reg = T.RunRegistry()
    here = {"a": True, "b": True}
    s = T.TrainSettings(epochs=100, batch_size=8, log_every=1, seed=2)
    a = _join(reg, small, s, lambda: here["a"])
    _join(reg, small, s, lambda: here["b"])

    def steps():
        v = a.run.view()["a"]["step"]
        return v[-1].step if v else 0

    deadline = time.time() + 60
    while steps() < 3 and time.time() < deadline:
        time.sleep(0.02)
    here["a"] = False
    n = steps()
    while steps() < n + 10 and time.time() < deadline:
        time.sleep(0.02)
    assert steps() >= n + 10 and a.run.running and a.run.watching() == 1
    here["b"] = False
    _ended(a)
    res = a.run.view()["a"]["result"]
    assert res.status == "stopped" and "session that started it is gone" in res.message
    again = _join(reg, small, s, lambda: True)
    assert again.how == "started" and reg.started == 2
    again.run.stop()
    _ended(again)


def test_stop_lets_one_watcher_go_and_the_last_one_stops_the_run(small):
    reg = T.RunRegistry()
    s = T.TrainSettings(epochs=100, batch_size=8, log_every=1, seed=6)
    w1, w2 = (lambda: True), (lambda: True)
    a = _join(reg, small, s, w1)
    _join(reg, small, s, w2)
    assert a.run.leave(w1) == 1 and a.run.running and a.run.watching() == 1
    assert a.run.leave(w2) == 0
    _ended(a)
    assert "stopped by the user" in a.run.view()["a"]["result"].message


def test_finished_runs_are_kept_within_a_byte_budget(small):
    """A stored run costs its weights, records and data; a registry too small for one keeps
    none (the next press trains again)."""
    s = T.TrainSettings(lr=0.5, epochs=1, batch_size=32, seed=1)
    reg = T.RunRegistry()
    a = _join(reg, small, s, lambda: True)
    _ended(a)
    weights = sum(t.nelement() * t.element_size()
                  for t in a.run.view()["a"]["result"].state_dict.values())
    size = T.run_bytes(a.run)
    assert size > weights + small.x_train.nelement() * 4
    assert reg.finished.bytes == size
    tiny = T.RunRegistry(max_bytes=size - 1)
    b = _join(tiny, small, s, lambda: True)
    _ended(b)
    assert _join(tiny, small, s, lambda: True).how == "started" and tiny.started == 2


def test_run_key_is_what_makes_a_run():
    spec = resolve("lenet-bn")
    s = T.TrainSettings(epochs=5, schedule="CosineAnnealingLR")

    def key(sp=spec, settings=s, data="digits"):
        return T.run_key([("a", sp, settings)], data)

    assert key() == key(settings=dataclasses.replace(s, device="cpu"))  # auto is the CPU here
    assert key() == key(settings=dataclasses.replace(s, schedule_args=(("T_max", 5),)))
    assert key() == key(sp=resolve("lenet-bn", {"batch": 8}))  # the sidebar's batch
    assert key() != key(settings=dataclasses.replace(s, schedule_args=(("T_max", 6),)))
    assert key() != key(settings=dataclasses.replace(s, seed=1))
    assert key() != key(data="shapes")
    assert key() != key(sp=resolve("lenet"))


# ----------------------------------------------------------------------------- the link
def test_train_link_round_trip():
    """Every setting the page has goes into the link and comes back equal; only what differs
    from the page's defaults is written, under t. keys that no model knob uses."""
    from vizapp.labs.train import link as L
    from vizapp.zoo.codec import all_knob_names

    s = T.TrainSettings(optimizer="adam", lr=0.05, momentum=0.5, weight_decay=1e-4,
                        batch_size=32, epochs=7, schedule="MultiStepLR", seed=11,
                        max_seconds=60.0, schedule_args=(("gamma", 0.5), ("milestones", (2, 5))))
    page = T.PageKnobs(data="shapes", n=3000, compare="schedule", schedule2="StepLR",
                       device="cpu", watch="act3", unit=2)
    link = T.TrainLink(s, page, (("step_size", 2),))
    q = L.to_params(link, T.TrainLink())
    assert q == {"t.optimizer": "adam", "t.lr": "0.05", "t.momentum": "0.5",
                 "t.weight_decay": "0.0001", "t.batch_size": "32", "t.epochs": "7",
                 "t.schedule": "MultiStepLR", "t.seed": "11", "t.max_seconds": "60.0",
                 "t.data": "shapes", "t.n": "3000", "t.compare": "schedule",
                 "t.schedule2": "StepLR", "t.device": "cpu", "t.watch": "act3", "t.unit": "2",
                 "t.s.gamma": "0.5", "t.s.milestones": "2,5", "t.s2.step_size": "2"}
    assert all(k.startswith("t.") for k in q) and not set(q) & all_knob_names()
    back, messages = L.from_params(q)
    assert messages == [] and back == link
    # written against the page's defaults: the defaults themselves are left out
    assert L.to_params(link, link) == {}
    # what does not apply is not written: the shapes count for the digits, the second lr
    # when the comparison changes the model
    other = T.TrainLink(page=T.PageKnobs(data="digits", n=3000, compare="model", lr2=0.3))
    assert L.to_params(other, T.TrainLink()) == {}


@pytest.mark.parametrize("query,message", [
    ({"t.lr": "abc"}, "t.lr: cannot read 'abc' as float"),
    ({"t.epochs": "0"}, "t.epochs: epochs must be at least 1 (got 0) — kept the default."),
    ({"t.schedule": "Nope"}, "t.schedule: lr schedule must be one of none, StepLR"),
    ({"t.schedule": "StepLR", "t.s.gamma": "7"}, "t.s.gamma: gamma must be at most 1"),
    ({"t.schedule": "StepLR", "t.s.T_max": "3"}, "'t.s.T_max' is not a parameter of StepLR"),
    ({"t.s.gamma": "0.5"}, "t.s.gamma: the link sets no schedule for them"),
    ({"t.compare": "both"}, "t.compare: compare must be one of model, lr, schedule"),
    ({"t.watch": "conv9"}, "t.watch: watch must be one of act1, act4 (got 'conv9')"),
    ({"t.bogus": "1"}, "'t.bogus' is not a Train setting — ignored."),
])
def test_bad_link_values_are_reported_and_left_at_the_default(query, message):
    from vizapp.labs.train import link as L

    link, messages = L.from_params({"t.seed": "5", **query}, {"watch": ("act1", "act4")})
    assert len(messages) == 1 and messages[0].startswith(message), messages
    assert link.settings.seed == 5  # the good values are read
    assert link.settings.lr == 0.9 and link.settings.epochs == 10  # the bad ones: defaults
    assert link.settings.schedule_args == () and link.page == T.PageKnobs()


# ----------------------------------------------------------------------------- random state
def test_training_does_not_seed_or_rewind_the_global_rng(small):
    """Other sessions' threads share torch's global RNG: during and after a training its
    sequence goes on exactly as if no training had run."""
    g = torch.Generator().manual_seed(1234)
    first, second = torch.rand(2, generator=g), torch.rand(2, generator=g)
    torch.manual_seed(1234)
    during = []

    def emit(r):
        if isinstance(r, T.StepRecord) and not during:
            during.append(torch.rand(2))

    T.train(lenet_bn(), small, T.TrainSettings(epochs=1, batch_size=32, seed=7), emit=emit)
    assert torch.equal(during[0], first)  # not re-seeded with the training's seed
    assert torch.equal(torch.rand(2), second)  # not rewound afterwards


def dropout_net():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 64), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(64, 10))


def test_dropout_curves_depend_on_the_seed_only(small):
    s = T.TrainSettings(lr=0.3, epochs=2, batch_size=32, seed=3)
    torch.manual_seed(1)
    a = T.train(dropout_net(), small, s)
    torch.manual_seed(2)  # another global state: the masks must not change
    torch.rand(17)
    b = T.train(dropout_net(), small, s)
    assert curves(a) == curves(b)
    assert all(e.gap > 0 for e in a.epochs)  # dropout is on in train mode
    c = T.train(dropout_net(), small, dataclasses.replace(s, seed=4))
    assert curves(c) != curves(a)


def test_seeded_dropout_is_dropout_with_its_own_generator():
    x = torch.ones(4, 8, 5, 5)
    d2 = T.SeededDropout(0.5, 2, torch.Generator().manual_seed(0))
    out = d2(x)
    planes = out.flatten(2)
    assert torch.all((planes == 0).all(2) | (planes == 2).all(2))  # whole channels dropped
    want = torch.empty(4, 8, 1, 1).bernoulli_(0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, x * want / 0.5)
    d = T.SeededDropout(0.25, 0, torch.Generator().manual_seed(1))
    y = d(torch.ones(1000))
    assert y.unique().tolist() == [0.0, pytest.approx(1 / 0.75)]
    assert 0.15 < float((y == 0).float().mean()) < 0.35
    assert torch.equal(d.eval()(x), x)


class Exploding(nn.Module):
    """Returns NaN logits (or raises ``exc``) from its 3rd training call on (the 3rd step;
    the data check before training runs in eval mode)."""

    def __init__(self, exc: BaseException | None = None):
        super().__init__()
        self.fc = nn.Linear(28 * 28, 10)
        self.calls = 0
        self.exc = exc

    def forward(self, x):
        out = self.fc(x.flatten(1))
        if x.device.type == "meta":  # the memory estimate's shape pass
            return out
        self.calls += self.training  # training steps only (the FLOP count runs one eval pass)
        if self.training and self.calls >= 3:
            if self.exc is not None:
                raise self.exc
            return out * float("nan")
        return out


def test_nan_loss_stops_with_the_step(small):
    r = T.train(Exploding(), small, T.TrainSettings(epochs=3, batch_size=16, log_every=4))
    assert r.status == "nan" and not r.ok
    assert r.message == "loss became NaN at step 3: lower the learning rate"


def test_a_real_large_lr_gives_the_nan_message(small):
    m = build_model(resolve("lenet", {"activation": "relu"}), seed=0)
    r = T.train(m, small, T.TrainSettings(lr=5.0, momentum=0.9, epochs=5, batch_size=16))
    assert r.status == "nan" and r.message.startswith("loss became")
    assert r.message.endswith(": lower the learning rate")


def test_out_of_memory_is_caught_and_reported(small):
    r = T.train(Exploding(torch.cuda.OutOfMemoryError("CUDA out of memory")), small,
                T.TrainSettings(epochs=1, batch_size=16))
    assert r.status == "oom" and "ran out of memory at step 3" in r.message
    assert "smaller batch" in r.message


def test_memory_estimate_refuses_before_training(small, monkeypatch):
    monkeypatch.setattr(memory, "device_budget", lambda dev: 10_000)
    with pytest.raises(T.TrainError, match="not trained: batch 64 needs about"):
        T.train(lenet_bn(), small, T.TrainSettings())


def test_a_handed_over_estimate_is_checked_against_the_budget_of_now(small, monkeypatch):
    """The page's estimate (made before the press) travels with the run: the check measures
    the budget again and refuses when it no longer fits; the numbers are the model's own."""
    spec = resolve("lenet-bn")
    s = T.TrainSettings(epochs=1, batch_size=32)
    est = T.estimate_spec(spec, "cpu", 32, s.precision)
    real = T.estimate_training(lenet_bn(), spec.input_shape, 32, torch.device("cpu"))
    assert (est.param_bytes, est.activation_bytes, est.total_bytes) == (
        real.param_bytes, real.activation_bytes, real.total_bytes)
    monkeypatch.setattr(memory, "device_budget", lambda dev: 10_000)
    with pytest.raises(T.TrainError, match="not trained: batch 32 needs about"):
        T.train(lenet_bn(), small, s, in_place=True, estimate=est)


# ----------------------------------------------------------------------------- bad input
def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in entries.items():
            z.writestr(k, v)
    return buf.getvalue()


def _png(value: int, size=(12, 10)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full(size[::-1], value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_class_zip_loads_and_rejects():
    good = {f"data/{c}/{i}.png": _png(v + i) for c, v in (("dark", 10), ("light", 200))
            for i in range(8)}
    ds = D.class_zip(_zip(good), (1, 16, 16), 2, seed=0)
    assert ds.classes == ("dark", "light") and len(ds.y_train) + len(ds.y_val) == 16
    raw = ds.x_val * ds.std + ds.mean  # undo the standardisation: the pixel values come back
    for x, y in zip(raw, ds.y_val):
        assert float(x.mean()) == pytest.approx((10 if y == 0 else 200) / 255, abs=8 / 255)
    with pytest.raises(D.DataError, match="is not a zip file"):
        D.class_zip(b"not a zip", (1, 16, 16), 2)
    with pytest.raises(D.DataError, match="is not CLASS/IMAGE"):
        D.class_zip(_zip({**good, "loose.png": _png(1)}), (1, 16, 16), 2)
    with pytest.raises(D.DataError, match="is not an image"):
        D.class_zip(_zip({**good, "data/dark/notes.txt": b"hi"}), (1, 16, 16), 2)
    with pytest.raises(D.DataError, match="at least 2 folders"):
        D.class_zip(_zip({f"a/{i}.png": _png(i) for i in range(12)}), (1, 16, 16), 2)
    with pytest.raises(D.DataError, match="cannot be read as an image"):
        D.class_zip(_zip({**good, "data/dark/bad.png": b"garbage"}), (1, 16, 16), 2)


def _good_entries() -> dict[str, bytes]:
    return {f"data/{c}/{i}.png": _png(v + i) for c, v in (("dark", 10), ("light", 200))
            for i in range(8)}


def _refused_within(limit_bytes: int, fn, match: str) -> None:
    """``fn()`` raises DataError matching ``match`` and allocates at most ``limit_bytes``."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(D.DataError, match=match):
            fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < limit_bytes, f"{peak / 2**20:.0f} MiB allocated"


def test_zip_member_of_a_gibibyte_is_refused_unread(tmp_path):
    """1 GiB of zeros deflates to about 1 MiB: the upload cap does not see it; the member's
    size does, before a byte is unpacked (zf.read took +1 GiB, then failed on the zeros)."""
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in _good_entries().items():
            z.writestr(k, v)
        with z.open("data/dark/big.png", "w", force_zip64=True) as f:  # streamed: no 1 GiB here
            chunk = bytes(2**20)
            for _ in range(1024):
                f.write(chunk)
    assert path.stat().st_size < 2 * 2**20 < D.MAX_ZIP_BYTES
    _refused_within(64 * 2**20, lambda: D.class_zip(str(path), (1, 16, 16), 2),
                    r"'data/dark/big.png' unpacks to 1,024.0 MiB: an image in the zip may have at "
                    r"most 16 MiB")


def _lying_zip(member: str, real: int, claimed: int) -> bytes:
    """A zip whose ``member`` unpacks to ``real`` zero bytes while its headers say ``claimed``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in _good_entries().items():
            z.writestr(k, v)
        z.writestr(member, bytes(real))
    raw = bytearray(buf.getvalue())
    info = zipfile.ZipFile(io.BytesIO(bytes(raw))).getinfo(member)
    local = info.header_offset  # local header: uncompressed size at +22
    assert raw[local:local + 4] == b"PK\x03\x04"
    raw[local + 22:local + 26] = claimed.to_bytes(4, "little")
    name = member.encode()
    central = raw.rindex(b"PK\x01\x02", 0, raw.rindex(name))  # its central entry: size at +24
    raw[central + 24:central + 28] = claimed.to_bytes(4, "little")
    assert zipfile.ZipFile(io.BytesIO(bytes(raw))).getinfo(member).file_size == claimed
    return bytes(raw)


def test_zip_member_whose_header_lies_is_read_no_further_than_the_cap():
    data = _lying_zip("data/dark/liar.png", real=64 * 2**20, claimed=1000)
    _refused_within(16 * 2**20, lambda: D.class_zip(data, (1, 16, 16), 2),
                    r"'data/dark/liar.png' cannot be unpacked")


def test_zip_total_unpacked_size_is_capped(monkeypatch):
    monkeypatch.setattr(D, "MAX_UNZIPPED_BYTES", 1000)  # the 16 images take 1,184 bytes
    with pytest.raises(D.DataError, match=r"upload unpacks to 0 MiB: the limit is 0 MiB"):
        D.class_zip(_zip(_good_entries()), (1, 16, 16), 2)


def test_zip_with_bzip2_members_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_BZIP2) as z:
        for k, v in _good_entries().items():
            z.writestr(k, v)
    with pytest.raises(D.DataError, match="compression vizapp does not read"):
        D.class_zip(buf.getvalue(), (1, 16, 16), 2)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width×height (PIL checks the size when it opens the file)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0,
                                                                 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [20000, 12000])  # past PIL's error limit; past its warning
def test_zip_with_a_decompression_bomb_image_is_a_data_error(side):
    data = _zip({**_good_entries(), "data/dark/huge.png": _png_header(side, side)})
    with pytest.raises(D.DataError, match=r"'data/dark/huge.png' declares more than [\d,]+ "
                                          r"pixels \(a decompression bomb\): images may have at "
                                          r"most 1,048,576 pixels"):
        D.class_zip(data, (1, 16, 16), 2)


def _training_file(config: dict) -> bytes:
    buf = io.BytesIO()
    torch.save({"state_dict": {}, "config": json.dumps(config)}, buf)
    return buf.getvalue()


def _no_build(*_a, **_k):
    pytest.fail("the model was built")


def test_weights_file_naming_a_huge_model_is_refused_before_it_is_built(monkeypatch):
    """A 1.3 KB file whose configuration names torchvision:vit_l_16 built it with real weights
    (+1.85 GB kept); the budget is checked on the meta device first."""
    from types import SimpleNamespace

    from components import page_train

    raw = _training_file({"model": "torchvision:vit_l_16", "family": "torchvision", "knobs": {}})
    assert len(raw) < 2048
    monkeypatch.setattr("vizapp.zoo.build_model", _no_build)
    monkeypatch.setattr(page_train, "build_model", _no_build)
    want = (r"not built: torchvision:vit_l_16 at batch 64 needs about [\d.]+ GiB \(weights 2 × "
            r"1\.1 GiB, .*the budget for one visitor is 1\.5 GiB.* Fix: ")
    with pytest.raises(T.TrainError, match=want):
        T.model_from_file(raw, batch=64)
    # the Train page's "check a downloaded file" box: the same refusal, as its error box
    shown: list[str] = []
    monkeypatch.setattr(page_train.st, "file_uploader",
                        lambda *a, **k: SimpleNamespace(getvalue=lambda: raw))
    monkeypatch.setattr(page_train.st, "error", lambda body, **k: shown.append(body))
    page_train._check_file(None, SimpleNamespace(y_val=range(360)))
    assert len(shown) == 1 and "vit_l_16" in shown[0] and "1.1 GiB" in shown[0], shown


def test_weights_file_that_fits_is_built():
    spec, sd, built = T.model_from_file(_training_file({"model": "lenet", "knobs": {}}))
    assert spec.preset == "lenet" and sd == {} and isinstance(built, nn.Module)
    for bad in (b"junk", _training_file([1, 2])):
        with pytest.raises(T.TrainError, match="not a vizapp training file"):
            T.model_from_file(bad)


def test_too_small_input_and_wrong_classes():
    with pytest.raises(D.DataError, match="too small .* at least 8"):
        D.digits((1, 4, 4), 10)
    with pytest.raises(D.DataError, match="set num_classes to 10"):
        D.digits((1, 28, 28), 2)
    with pytest.raises(D.DataError, match="over the 400 MiB cap") as info:
        D.digits((3, 224, 224), 10)  # 1,797 × 3×224×224 floats = 1.0 GiB: refused up front
    side = int(re.search(r"at most (\d+)", str(info.value)).group(1))
    assert 1797 * 3 * side ** 2 * 4 <= 400 * 2**20 < 1797 * 3 * (side + 1) ** 2 * 4
    assert D.digits((3, side, side), 10).input_shape == (3, side, side)
    with pytest.raises(D.DataError, match="set in_channels to 1 or 3"):
        D.fit_channels(torch.zeros(1, 3, 8, 8), 2, "CIFAR10")


def test_digits_are_the_real_digits():
    from sklearn.datasets import load_digits

    ds = D.digits((1, 8, 8), 10, seed=0)  # no resize: the pixels must come back exactly
    raw = load_digits().images / 16.0
    got = np.concatenate([(ds.x_train * ds.std + ds.mean).numpy(),
                          (ds.x_val * ds.std + ds.mean).numpy()])[:, 0]
    assert got.shape == raw.shape
    want = {arr.round(4).tobytes() for arr in raw.astype(np.float32)}
    assert {arr.round(4).tobytes() for arr in got} <= want


def test_shapes_are_seeded_and_fit_any_shape():
    a, b = D.shapes((3, 20, 24), 5, n=50, seed=2), D.shapes((3, 20, 24), 5, n=50, seed=2)
    assert torch.equal(a.x_train, b.x_train) and a.input_shape == (3, 20, 24)
    assert a.classes == D.SHAPES[:5]
    assert not torch.equal(a.x_train, D.shapes((3, 20, 24), 5, n=50, seed=3).x_train)


def test_model_that_cannot_take_the_data(small):
    with pytest.raises(T.TrainError, match="set num_classes to"):
        T.train(build_model(resolve("lenet-bn", {"num_classes": 4}), seed=0), small,
                T.TrainSettings())


def test_save_and_load_with_weights_only(small, tmp_path):
    r = T.train(lenet_bn(), small, T.TrainSettings(epochs=1), config={"model": "lenet-bn"})
    raw = T.save_bytes(r)
    sd, cfg = T.load_bytes(raw)
    assert cfg["model"] == "lenet-bn" and cfg["settings"]["epochs"] == 1
    m = lenet_bn()
    m.load_state_dict(sd)
    m.eval()
    with torch.no_grad():
        out = m(small.x_val)
    assert float((out.argmax(1) == small.y_val).float().mean()) == pytest.approx(
        r.epochs[-1].val_acc)
    assert T.evaluate(lenet_bn(), sd, small) == pytest.approx(r.epochs[-1].val_acc)
    with pytest.raises(T.TrainError, match="do not fit this configuration"):
        T.evaluate(build_model(resolve("lenet"), seed=0), sd, small)
    with pytest.raises(T.TrainError, match="not a vizapp training file"):
        T.load_bytes(b"junk")


# ----------------------------------------------------------------------------- CLI
def test_cli_json_lines(capsys):
    rc = cli(["train", "lenet-bn", "--data", "shapes:120", "--epochs", "2", "--batch", "32",
              "--lr", "0.5", "--schedule", "StepLR", "--schedule-arg", "step_size=1",
              "--schedule-arg", "gamma=0.5", "--format", "json"])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0 and len(out) == 2
    rows = [json.loads(line) for line in out]
    assert set(rows[0]) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                            "seconds", "images_per_s"}
    assert [r["epoch"] for r in rows] == [1, 2] and [r["lr"] for r in rows] == [0.5, 0.25]


@pytest.mark.parametrize("args,msg", [
    (["--data", "nowhere"], "neither digits, shapes"),
    (["--lr", "-1"], "learning rate must be at least"),
    (["--schedule", "StepLR", "--schedule-arg", "gamma=5"], "gamma must be at most 1"),
    (["--schedule-arg", "gamma=5"], "needs --schedule"),
    (["--input", "1,4,4"], "too small"),
    (["--epochs", "0"], "epochs must be at least 1"),
    (["--batch", "1"], "--batch must be between 2"),
])
def test_cli_bad_input_exits_2_with_one_line(capsys, args, msg):
    assert cli(["train", "lenet-bn", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and msg in err and "Traceback" not in err


# ----------------------------------------------------------------------------- the page
def test_train_page_trains_and_shows_results():
    """AppTest: the page trains LeNet-BN vs LeNet on generated shapes and shows both runs'
    accuracy (equal to the lab's own records), the progress text and the result tabs."""
    from streamlit.testing.v1 import AppTest

    def script():
        from components import frame, page_train
        from vizapp.zoo import resolve

        page_train.render(frame.begin(resolve("lenet-bn")))

    at = AppTest.from_function(script, default_timeout=120)
    for k, v in {"vz.train.data": "shapes", "vz.train.n": 200, "vz.train.s.epochs": 2,
                 "vz.train.s.lr": 0.5}.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("shapes: 160 training + 40 validation" in t.value for t in at.text)
    assert at.selectbox(key="vz.train.vs").value == "lenet"
    at.button(key="vz.train.go").click().run()
    run = at.session_state["vz.train.run"]
    run.thread.join(120)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    view = run.view()
    metrics = {m.label: m.value for m in at.metric}
    for label in ("lenet-bn", "lenet"):
        acc = view[label]["epoch"][-1].val_acc
        assert metrics[f"val accuracy — {label}"] == f"{100 * acc:.1f}%"
    assert sum("trained 2 epochs" in s.value for s in at.success) == 2
    assert [t.label for t in at.tabs] == ["BatchNorm", "Inside the network",
                                          "Percentiles & train/eval gap", "Mistakes", "Filters",
                                          "Download"]
    speed = "\n".join(c.value for c in at.caption)
    speed = speed.replace("\\", "")  # the captions' Markdown escapes (lenet-bn\: …)
    for label in ("lenet-bn", "lenet"):  # each run's speed, from its last epoch's record
        e = view[label]["epoch"][-1]
        assert f"{label}: {e.images_per_s:,.0f} images/s · ≈ {e.flops_per_s / 1e9:,.1f} " \
               f"GFLOP/s of training arithmetic (fp32 on cpu" in speed, speed


def _train_page(state: dict, model: str = "lenet-bn"):
    """AppTest of the Train page with ``state`` set, after one click on Train and the run's
    end (the finished page rendered once more)."""
    from streamlit.testing.v1 import AppTest

    def script(model: str):
        from components import frame, page_train
        from vizapp.zoo import resolve

        page_train.render(frame.begin(resolve(model)))

    at = AppTest.from_function(script, args=(model,), default_timeout=120)
    for k, v in {"vz.train.data": "shapes", "vz.train.n": 200, "vz.train.s.epochs": 4,
                 **state}.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.button(key="vz.train.go").click().run()
    run = at.session_state["vz.train.run"]
    run.thread.join(120)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at, run


def _curve_names(at) -> set[str]:
    figs = [json.loads(e.proto.spec) for e in at.get("plotly_chart")]
    return {t.get("name") for f in figs for t in f["data"] if t.get("name")}


@pytest.mark.parametrize("mode,state,runs", [
    ("lr", {"vz.train.s.lr": 0.9, "vz.train.lr2": 0.1, "vz.train.s.schedule": "ExponentialLR"},
     {"lenet-bn, lr 0.9": ("ExponentialLR", 0.9, {}),
      "lenet-bn, lr 0.1": ("ExponentialLR", 0.1, {})}),
    ("schedule", {"vz.train.s.lr": 0.4, "vz.train.s.schedule": "StepLR",
                  "vz.sched.StepLR.step_size": 1, "vz.sched.StepLR.gamma": 0.5,
                  "vz.train.sched2": "CosineAnnealingLR",
                  "vz.train.sched2.CosineAnnealingLR.T_max": 4},
     {"lenet-bn, StepLR": ("StepLR", 0.4, {"step_size": 1, "gamma": 0.5}),
      "lenet-bn, CosineAnnealingLR": ("CosineAnnealingLR", 0.4, {"T_max": 4})}),
])
def test_train_page_compares_two_lrs_or_two_schedules(mode, state, runs):
    """The same model, data and seed twice; each run's lr per epoch is its own schedule's
    sequence (the LR schedules page's, with the parameters the page left at their defaults
    for this run), and the curves are named after what differs."""
    at, run = _train_page({"vz.train.cmp": mode, **state})
    view = run.view()
    assert list(view) == list(runs)
    for label, (name, lr, args) in runs.items():
        assert view[label]["result"].status == "done", view[label]["result"].message
        want = S.lr_curve(name, 4, lr, **S.run_params(name, 4, lr, args)).lr
        assert [e.lr for e in view[label]["epoch"]] == pytest.approx(list(want), rel=1e-12)
        assert f"{label} train" in _curve_names(at)
    a, b = (view[k]["epoch"] for k in runs)
    assert [e.lr for e in a] != [e.lr for e in b]
    # same seed, same data: the first steps start from the same weights and batches
    assert view[list(runs)[0]]["result"].config["settings"]["seed"] == \
        view[list(runs)[1]]["result"].config["settings"]["seed"]


def test_train_page_refuses_an_lr_comparison_with_equal_rates():
    from streamlit.testing.v1 import AppTest

    def script():
        from components import frame, page_train
        from vizapp.zoo import resolve

        page_train.render(frame.begin(resolve("lenet")))

    at = AppTest.from_function(script, default_timeout=120)
    for k, v in {"vz.train.data": "shapes", "vz.train.n": 200, "vz.train.cmp": "lr",
                 "vz.train.s.lr": 0.5, "vz.train.lr2": 0.5}.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception
    assert any("second learning rate equals the first (0.5)" in e.value.replace("\\", "")
               for e in at.error)  # shown Markdown-escaped
    assert at.button(key="vz.train.go").disabled


def _page(query: dict | None = None, state: dict | None = None, model: str = "lenet-bn"):
    """The Train page (AppTest) opened on a link with ``query`` and ``state`` set, run once."""
    from streamlit.testing.v1 import AppTest

    def script(model: str):
        from components import frame, page_train
        from vizapp.zoo import resolve

        page_train.render(frame.Frame(resolve(model), None))  # this page needs no analysis

    at = AppTest.from_function(script, args=(model,), default_timeout=120)
    at.query_params.update(query or {})
    for k, v in (state or {}).items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(at) -> str:
    return "\n".join(e.value for kind in ("info", "warning", "caption", "error", "success")
                     for e in at.get(kind))


def test_train_settings_in_a_link_are_not_taken_for_model_knobs():
    from components.state import VIEW_PREFIXES, spec_from_query

    spec, messages = spec_from_query({"model": "lenet-bn", "t.epochs": "3", "t.lr": "0.5",
                                      "t.s.gamma": "0.5", "t.seed": "2"})
    assert messages == [] and spec.preset == "lenet-bn" and "t." in VIEW_PREFIXES
    _, messages = spec_from_query({"model": "lenet-bn", "epochz": "3"})
    assert len(messages) == 1  # a key outside every namespace is still reported


def test_a_link_opens_the_train_page_with_its_settings_and_never_trains():
    """The t.* parameters set the widgets (a bad one is reported as text and left at its
    default); the Train button is there and nothing is trained; the link is rewritten from the
    widgets (the bad value gone) and follows a widget change."""
    started = T.RUNS.started
    at = _page({"t.data": "shapes", "t.n": "400", "t.epochs": "3", "t.lr": "0.5",
                "t.schedule": "StepLR", "t.s.gamma": "0.5", "t.compare": "lr", "t.lr2": "0.2",
                "t.seed": "4", "t.batch_size": "lots", "t.unit": "3"})
    assert at.selectbox(key="vz.train.data").value == "shapes"
    assert at.slider(key="vz.train.n").value == 400
    assert at.slider(key="vz.train.s.epochs").value == 3
    assert at.number_input(key="vz.train.s.lr").value == 0.5
    assert at.number_input(key="vz.train.s.seed").value == 4
    assert at.number_input(key="vz.train.s.batch_size").value == 64  # the default
    assert at.selectbox(key="vz.train.s.schedule").value == "StepLR"
    assert at.number_input(key="vz.sched.StepLR.gamma").value == 0.5
    assert at.number_input(key="vz.sched.StepLR.step_size").value == 1  # the run's: a third of 3
    assert at.selectbox(key="vz.train.cmp").value == "lr"
    assert at.number_input(key="vz.train.lr2").value == 0.2
    assert at.number_input(key="vz.train.unit").value == 3
    warnings = [w.value.replace("\\", "") for w in at.warning]  # shown Markdown-escaped
    assert any("t.batch_size: cannot read 'lots' as int" in w for w in warnings), warnings
    go = at.button(key="vz.train.go")
    assert not go.disabled and "vz.train.run" not in at.session_state
    assert T.RUNS.started == started
    q = at.query_params
    assert q.get("t.batch_size") is None and q["t.epochs"] == "3" and q["t.lr2"] == "0.2"
    assert q["t.s.gamma"] == "0.5" and "t.s.step_size" not in q  # the run's default
    at.slider(key="vz.train.s.epochs").set_value(9).run()
    assert at.query_params["t.epochs"] == "9"
    assert at.number_input(key="vz.sched.StepLR.step_size").value == 3  # follows the epochs
    at.number_input(key="vz.sched.StepLR.step_size").set_value(5).run()
    assert at.query_params["t.s.step_size"] == "5"
    at.slider(key="vz.train.s.epochs").set_value(12).run()
    assert at.number_input(key="vz.sched.StepLR.step_size").value == 5  # set by hand: kept
    assert T.RUNS.started == started and "vz.train.run" not in at.session_state


def test_a_schedule_that_does_nothing_in_this_run_says_so():
    at = _page({"t.epochs": "10", "t.schedule": "StepLR", "t.s.step_size": "10"})
    assert "StepLR leaves the lr at 0.9 for all 10 epoch(s) of this run" in _texts(at)
    at = _page({"t.epochs": "10", "t.schedule": "StepLR"})  # the run's default: acts
    assert "leaves the lr at" not in _texts(at)


def test_two_sessions_pressing_the_same_link_watch_one_run():
    """Two sessions press Train on the same link while the device is busy: one run is
    started and both watch it (the page says 2); a third that joins and presses Stop only
    stops watching; when the run has finished, a new session gets the stored result at once
    and nothing new is trained."""
    link = {"t.data": "shapes", "t.n": "200", "t.epochs": "2", "t.vs": "none",
            "t.seed": "424242"}
    started = T.RUNS.started
    with _device_held():
        a, b = _page(link), _page(link)
        a.button(key="vz.train.go").click().run()
        run = a.session_state["vz.train.run"]
        _wait_for(lambda: run.view()["lenet-bn"]["progress"].phase == "queued")
        b.button(key="vz.train.go").click().run()
        assert b.session_state["vz.train.run"] is run and T.RUNS.started == started + 1
        assert "2 session(s) watching this run" in _texts(b)
        assert "Another session had started this very run" in _texts(b)
        deadline = time.time() + 30  # the run's thread reaches the device queue on its own
        while "waiting for the device — 1 run(s) ahead" not in "\n".join(
                str(p.proto.text) for p in b.get("progress")) and time.time() < deadline:
            time.sleep(0.3)
            b.run()
        assert "waiting for the device — 1 run(s) ahead" in "\n".join(
            str(p.proto.text) for p in b.get("progress"))
        d = _page(link)  # a third one joins, then stops: only it stops watching
        d.button(key="vz.train.go").click().run()
        d.button(key="vz.train.stop").click().run()
        assert "You stopped watching; the run goes on for the 2 other session(s)" in _texts(d)
        assert "vz.train.run" not in d.session_state and not run.stopping
        assert run.watching() == 2
    run.thread.join(120)
    a.run()
    assert a.metric[0].value == f"{100 * run.view()['lenet-bn']['epoch'][-1].val_acc:.1f}%"
    c = _page(link)
    c.button(key="vz.train.go").click().run()
    assert c.session_state["vz.train.run"] is run and T.RUNS.started == started + 1
    assert "had been trained already: its stored result is shown" in _texts(c)
    assert c.metric[0].value == a.metric[0].value
