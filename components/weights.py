"""Which weights a lab page shows: vizapp's random initialisation (seed 0), or the weights of
a model trained in this session's Train lab for the *same configuration* (family, knobs and
input; the batch aside — :func:`vizapp.labs.train.same_architecture`).

The lookup and the loading live in :mod:`vizapp.labs.train` (``trained_for``,
``trained_model``); this module draws the choice and says which weights are shown."""

from __future__ import annotations

from typing import Any

import streamlit as st

from vizapp.i18n import _
from vizapp.labs import train as train_lab
from vizapp.zoo import ModelSpec

from . import text

TRAIN_RUN = "vz.train.run"  # where the Train page keeps this session's TrainRun
RANDOM = "random"


def trained_runs(spec: ModelSpec) -> list[train_lab.Trained]:
    """This session's finished trainings of ``spec``'s configuration (usually 0 or 1; 2 for an
    lr or schedule comparison)."""
    return train_lab.trained_for(st.session_state.get(TRAIN_RUN), spec)


@st.cache_resource(max_entries=4, show_spinner="Loading the trained weights…")
def trained_model(key: str, _trained: train_lab.Trained) -> Any:
    """The trained model (eval mode, CPU), built once per run and label (``key`` is unique to
    them); shared read-only: the labs deep-copy it before any pass."""
    return train_lab.trained_model(_trained)


def choose(spec: ModelSpec, key: str) -> train_lab.Trained | None:
    """A choice between the trained weights (the default when there are any) and the random
    ones, and a line saying which are shown. Returns the chosen training, or None for the
    random weights."""
    found = trained_runs(spec)
    if not found:
        run = st.session_state.get(TRAIN_RUN)
        others = [j.label for j in getattr(run, "jobs", ()) if run.results.get(j.label)]
        if others:
            st.caption(":material/casino: " + text.md(_(
                "Weights: vizapp's random initialisation (seed 0). The model trained in the "
                "Train lab ({labels}) is another configuration; train this one there to see "
                "its trained weights here."), labels=", ".join(others)))
        else:
            st.caption(":material/casino: " + _(
                "Weights: vizapp's random initialisation (seed 0). Train this configuration in "
                "the Train lab to see its trained weights here."))
        return None
    by_key = {t.key: t for t in found}
    options = [*by_key, RANDOM]
    if st.session_state.get(key) not in options:  # a new training: its weights first
        st.session_state.pop(key, None)

    def name(k: str) -> str:
        if k == RANDOM:
            return _("random weights (vizapp's initialisation, seed 0)")
        return text.md(_("trained weights (from the Train lab): {label}"), label=by_key[k].label)

    choice = st.radio(_("weights"), options, format_func=name, key=key, horizontal=True)
    t = by_key.get(choice)
    if t is None:
        st.caption(":material/casino: " + _("Showing random weights (seed 0), not the trained "
                                            "ones."))
        return None
    acc = "" if t.val_acc is None else _(", validation accuracy {acc}%").format(
        acc=f"{100 * t.val_acc:.1f}")
    st.caption(":material/school: " + text.md(_(
        "Showing the trained weights of {label}: {epochs} epoch(s), {steps} steps on {data}"),
        label=t.label, epochs=len(t.result.epochs), steps=t.result.steps,
        data=t.data.summary()) + text.esc(acc) + (
        "" if t.result.status == "done" else " " + text.md(_("(ended early: {status})"),
                                                           status=t.result.status)))
    return t
