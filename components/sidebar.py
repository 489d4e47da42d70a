"""The sidebar: family, preset, the family's knobs (generated from its config metadata), the
input tensor. Returns the last *valid* :class:`~vizapp.zoo.ModelSpec`.

An impossible combination shows the :class:`~vizapp.zoo.ConfigError` message right under the
knob it names, and the rest of the app keeps the last good model. Widget values live in
session state (``vz.k.<family>.<knob>``); family/preset changes and "reset" reload them from
the preset in callbacks, before the widgets are drawn.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from vizapp.i18n import N_, _, tr
from vizapp.zoo import ConfigError, ModelSpec, codec, families, model_names, presets, resolve

from . import code_box, model_file, spec_editor, state, widgets
from .text import esc, md, unbracket

PREFIX = "vz.k"
FAMILY_KEY = "vz.family"
MODEL_KEY = "vz.model"
ERRORS_KEY = "vz.errors"
INVALID_KEY = "vz.invalid"  # the message of the knob change that was refused (for the header)


def _load(spec: ModelSpec) -> None:
    ss = st.session_state
    ss[FAMILY_KEY] = spec.family
    ss[MODEL_KEY] = state.model_name(spec)
    widgets.load(spec, PREFIX)
    ss[state.SPEC_KEY] = spec


def load_spec(spec: ModelSpec) -> None:
    """Make ``spec`` the current model (from a callback: before the sidebar is drawn)."""
    _load(spec)


def set_knobs(**values) -> None:
    """Set knob widgets of the current family (from a callback), e.g. ``height=63, width=63``."""
    ss = st.session_state
    spec = ss[state.SPEC_KEY]
    cls = type(spec.config)
    for name, value in values.items():
        ss[widgets.key(PREFIX, spec.family, name)] = widgets.to_widget(cls.knob_info(name), value)


def _on_family() -> None:
    fam = families()[st.session_state[FAMILY_KEY]]
    try:
        _load(resolve(fam.name))  # its default preset (torchvision: torchvision:resnet18)
    except ConfigError as exc:
        st.session_state[ERRORS_KEY] = {"": exc.message}


def _on_model() -> None:
    try:
        _load(resolve(st.session_state[MODEL_KEY]))
    except ConfigError as exc:
        st.session_state[ERRORS_KEY] = {"": exc.message}


def _on_reset() -> None:
    _load(state.base_spec(st.session_state[state.SPEC_KEY]))


def _model_options(family: str, current: str) -> list[str]:
    names = model_names(family)
    if current not in names:
        names.append(current)
    return names


def _describe(name: str) -> str:
    p = presets().get(name)
    return tr(p.description) if p else ""


DESC_SLOT_KEY = "vz.desc_slot"  # this rerun's place for the caption under the pickers


def _caption(spec: ModelSpec) -> None:
    """Under the pickers: the preset's description while the knobs are the preset's; once a
    knob changes, what changed (a description saying "growth 32" beside a knob at 16 was
    wrong)."""
    slot = st.session_state.pop(DESC_SLOT_KEY, None)
    if slot is None or spec.family == model_file.FAMILY:  # the uploader says which file
        return
    changed = {k: v for k, v in codec.to_params(spec).items() if k != "model"}
    if not changed or "code" in changed:
        desc = _describe(st.session_state[MODEL_KEY])
        if desc:
            slot.caption(esc(desc))
        return
    slot.caption(esc(_("{preset}, changed: {changes}").format(
        preset=st.session_state[MODEL_KEY],
        changes=", ".join(f"{k}={v}" for k, v in changed.items()))))


def render(code_place=None) -> ModelSpec:
    """Draw the sidebar; return the current valid spec (also kept in session state).
    ``code_place``: where the code box of "Your own model" goes (the main area)."""
    ss = st.session_state
    good = state.current_spec()
    if FAMILY_KEY not in ss or MODEL_KEY not in ss:
        _load(good)
    fams = families()
    sb = st.sidebar
    sb.markdown("### :material/deployed_code: " + _("Model"))
    top_error = sb.empty()
    fam = _pick_model(sb, fams)

    base = good if good.family == fam else resolve(ss[MODEL_KEY])
    arch, inputs = _knob_groups(spec_editor.visible_knobs(base))
    slots: dict[str, object] = {}
    with sb.expander(_("Architecture knobs"), expanded=True):
        _arch_knobs(fam, base, arch, slots, code_place)
    with sb.expander(_("Input N×C×H×W and classes"), expanded=True):
        _input_knobs(fam, base, inputs, slots)
    sb.button(_("↺ Reset to preset"), on_click=_on_reset, width="stretch",
              help=_("Put every knob back to the preset's value."))

    cfg, errors = spec_editor.read(PREFIX, dataclasses.replace(base, preset=ss[MODEL_KEY]))
    errors.update(ss.pop(ERRORS_KEY, {}) or {})
    if errors:
        _show_errors(errors, slots, top_error, fam, cfg)
        current = ss[state.SPEC_KEY]
        sb.info(md(_("Showing the last valid model: **{}**"), current.label), icon=":material/undo:")
        ss[INVALID_KEY] = "; ".join(errors.values())
        return current
    ss.pop(INVALID_KEY, None)
    spec = dataclasses.replace(base, config=cfg, preset=ss[MODEL_KEY])
    ss[state.SPEC_KEY] = spec
    _caption(spec)
    if fam == code_box.FAMILY:
        ss[CODE_SLOT_KEY] = slots["code"]
    return spec


def _pick_model(sb, fams: dict) -> str:
    """The family and model (preset) pickers and the preset's description; returns the
    family."""
    ss = st.session_state
    fam_names = list(fams)
    if ss[FAMILY_KEY] not in fam_names:
        fam_names.append(ss[FAMILY_KEY])
    titles = {n: tr(f.title) for n, f in fams.items()}  # in this run's language, once
    sb.selectbox(_("Family"), fam_names, key=FAMILY_KEY, on_change=_on_family,
                 format_func=lambda n: titles.get(n, n),
                 help=_("The architecture family; each has its own knobs below."))
    fam = ss[FAMILY_KEY]
    options = _model_options(fam, ss[MODEL_KEY])
    sb.selectbox(_("Model") if fam == "torchvision" else _("Preset"), options, key=MODEL_KEY,
                 on_change=_on_model,
                 help=_("A starting configuration; the knobs below change it.") + " "
                      + (tr(fams[fam].description) if fam in fams else ""))
    ss[DESC_SLOT_KEY] = sb.empty()  # the preset's description, once the knobs are read
    return fam


def _knob_groups(knobs) -> tuple[list, list]:
    """(architecture knobs, input knobs): the classifier size goes with the input tensor
    ("what goes in, what comes out")."""
    arch = [k for k in knobs if k.knob.group not in ("input", "batch")
            and k.name != "num_classes"]
    inputs = [k for k in knobs if k.knob.group in ("input", "batch") or k.name == "num_classes"]
    return arch, inputs


def _arch_knobs(fam: str, base: ModelSpec, arch: list, slots: dict, code_place=None) -> None:
    """One widget per architecture knob (the code box for your own model), each with a slot
    under it for its error."""
    if fam == model_file.FAMILY:  # a model file: its uploader
        model_file.draw(base, _load, ERRORS_KEY)
    elif not arch:
        st.caption(_("This model has no architecture knobs: pick another model above, or "
                     "change its input and classes below."))
    for info in arch:
        if fam == code_box.FAMILY:  # your own model: a code box, not a knob widget
            slots[info.name] = code_box.draw(info, spec_editor.widget_key(PREFIX, base, info),
                                             code_place)
            continue
        slots[info.name] = spec_editor.draw(st, PREFIX, base, info)


def _input_knobs(fam: str, base: ModelSpec, inputs: list, slots: dict) -> None:
    """C, H and W in one row, then the batch and the classes, each with an error slot."""
    row = [k for k in inputs if k.knob.group == "input"]
    cols = st.columns(len(row)) if row else []
    short = {"in_channels": "C", "height": "H", "width": "W"}
    for col, info in zip(cols, row):
        spec_editor.draw(col, PREFIX, base, info, label=short[info.name], slot=False)
    for info in row:
        slots[info.name] = st.empty()
    for info in inputs:
        if info.knob.group == "input":
            continue
        label = {"batch": N_("Batch N"), "num_classes": N_("Classes")}.get(info.name)
        slots[info.name] = spec_editor.draw(st, PREFIX, base, info, label=label)


def _show_errors(errors: dict, slots: dict, top_error, fam: str, cfg=None) -> None:
    """Each refused knob's message in the slot under it (the top one when it has none)."""
    for name, message in errors.items():
        slot = slots.get(name, top_error)
        if fam == code_box.FAMILY and name == "code":
            code_box.show_error(slot, message, cfg)
            continue
        message = tr(message)  # a lazy message from an earlier run: in this run's language
        text = md("**{}**: {}", unbracket(name), unbracket(message)) if slot is top_error and name \
            else esc(unbracket(message))
        slot.markdown(f":red[:material/error: {text}]")


CODE_SLOT_KEY = "vz.code_slots"  # this rerun's places under the code box (a Slots)


def finish(frame) -> None:
    """After the frame has the analysis: the code box's fix and link note under the box."""
    slots = st.session_state.pop(CODE_SLOT_KEY, None)
    if slots is not None and frame.spec.family == code_box.FAMILY:
        code_box.finish(slots, frame, widgets.key(PREFIX, code_box.FAMILY, "code"))
