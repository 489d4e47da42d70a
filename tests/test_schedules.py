"""LR schedules: torch's schedulers (stepped by vizapp) against closed-form formulas."""

from __future__ import annotations

import math

import pytest

from vizapp.labs import schedules as S


def close(a, b, tol=1e-9):
    return len(a) == len(b) and all(math.isclose(p, q, rel_tol=tol, abs_tol=tol)
                                    for p, q in zip(a, b))


def test_every_schedule_runs_with_defaults():
    assert len(S.SCHEDULES) == 8
    for c in S.all_curves(50, 0.1):
        assert len(c.lr) == 50 and c.epochs == tuple(range(50))
        assert all(v >= 0 and math.isfinite(v) for v in c.lr)


@pytest.mark.parametrize("step_size,gamma", [(30, 0.1), (7, 0.5), (1, 0.9)])
def test_step_lr(step_size, gamma):
    c = S.lr_curve("StepLR", 100, 0.1, step_size=step_size, gamma=gamma)
    assert close(c.lr, [0.1 * gamma ** (e // step_size) for e in range(100)])


def test_multistep_lr():
    ms = (10, 25, 26)
    c = S.lr_curve("MultiStepLR", 40, 1.0, milestones="26,10,25", gamma=0.5)
    assert close(c.lr, [0.5 ** sum(m <= e for m in ms) for e in range(40)])
    assert c.events == ms


def test_exponential_lr():
    c = S.lr_curve("ExponentialLR", 60, 0.2, gamma=0.93)
    assert close(c.lr, [0.2 * 0.93 ** e for e in range(60)])


@pytest.mark.parametrize("t_max,eta_min", [(100, 0.0), (30, 0.001)])
def test_cosine_annealing(t_max, eta_min):
    # the closed form holds for e ≤ T_max (torch's recursive form then keeps going up again)
    c = S.lr_curve("CosineAnnealingLR", t_max + 1, 0.1, T_max=t_max, eta_min=eta_min)
    want = [eta_min + (0.1 - eta_min) * (1 + math.cos(math.pi * e / t_max)) / 2
            for e in range(t_max + 1)]
    assert close(c.lr, want, 1e-6)


def test_warm_restarts():
    t0, mult, eta = 5, 2, 0.01
    c = S.lr_curve("CosineAnnealingWarmRestarts", 40, 0.1, T_0=t0, T_mult=mult, eta_min=eta)
    want, t_i, t_cur = [], t0, 0
    for _ in range(40):
        want.append(eta + (0.1 - eta) * (1 + math.cos(math.pi * t_cur / t_i)) / 2)
        t_cur += 1
        if t_cur >= t_i:
            t_cur, t_i = 0, t_i * mult
    assert close(c.lr, want, 1e-6)
    assert c.events == (5, 15, 35)  # restarts after periods of 5, 10, 20


def test_lambda_lr():
    c = S.lr_curve("LambdaLR", 30, 0.5, fn="warmup_constant", warmup=10)
    assert close(c.lr, [0.5 * min(1.0, (e + 1) / 10) for e in range(30)])
    c = S.lr_curve("LambdaLR", 30, 1.0, fn="polynomial", power=2.0)
    assert close(c.lr, [(1 - e / 30) ** 2 for e in range(30)])


def test_one_cycle():
    n, max_lr, pct, div, final = 100, 0.2, 0.3, 25.0, 1e4
    c = S.lr_curve("OneCycleLR", n, 0.1, max_lr=max_lr, pct_start=pct, div_factor=div,
                   final_div_factor=final, anneal_strategy="cos")
    start, low = max_lr / div, max_lr / div / final
    up_end = pct * n - 1  # torch: phase ends at step float(pct·total) − 1

    def cos(a, b, t):
        return b + (a - b) / 2 * (1 + math.cos(math.pi * t))

    want = [cos(start, max_lr, e / up_end) if e <= up_end else
            cos(max_lr, low, (e - up_end) / (n - 1 - up_end)) for e in range(n)]
    assert close(c.lr, want, 1e-6)
    assert math.isclose(max(c.lr), max_lr, rel_tol=1e-3)


def test_reduce_on_plateau_against_its_rule():
    p = dict(factor=0.5, patience=3, threshold=1e-4, cooldown=2, min_lr=1e-4, loss_tau=5.0,
             loss_noise=0.0, seed=0)
    c = S.lr_curve("ReduceLROnPlateau", 80, 0.1, **p)
    loss = S.synthetic_loss(80, 5.0, 0.0, 0)
    assert close(c.loss, list(loss))
    # the rule written out: a cut after more than `patience` bad epochs, then `cooldown`
    lr, best, bad, cool, want = 0.1, math.inf, 0, 0, []
    for e in range(80):
        want.append(lr)
        v = loss[e]
        if v < best * (1 - p["threshold"]):
            best, bad = v, 0
        else:
            bad += 1
        if cool > 0:
            cool -= 1
            bad = 0
        if bad > p["patience"]:
            lr = max(lr * p["factor"], p["min_lr"])
            cool, bad = p["cooldown"], 0
    assert close(c.lr, want, 1e-12)
    assert c.events and min(c.lr) >= 1e-4


def test_params_are_data():
    for s in S.SCHEDULES.values():
        assert s.formula and s.help
        for p in s.params:
            assert p.knob.help and p.type in (float, int, tuple[int, ...], str, bool)
            if p.type in (float, int):
                assert (p.knob.min is not None and p.knob.max is not None
                        and p.knob.min <= p.default <= p.knob.max)
            if p.type is str:
                assert p.default in p.knob.choices
        S.lr_curve(s.name, 20, 0.1, **s.defaults())


def test_errors():
    with pytest.raises(S.ScheduleError, match="unknown schedule"):
        S.lr_curve("Nope")
    with pytest.raises(S.ScheduleError, match="gamma must be at most 1"):
        S.lr_curve("StepLR", gamma=3)
    with pytest.raises(S.ScheduleError, match="no parameter 'T_max'"):
        S.lr_curve("StepLR", T_max=3)
    with pytest.raises(S.ScheduleError, match="milestones"):
        S.lr_curve("MultiStepLR", milestones="a,b")
    with pytest.raises(S.ScheduleError, match="epochs"):
        S.lr_curve("StepLR", epochs=0)
