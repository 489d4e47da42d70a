"""Train a network for real on small offline data: any zoo spec, torchvision builder or
``nn.Module`` (on its own copy, or itself where the caller built it for the run:
``in_place``), SGD with momentum or Adam, weight decay, and the learning-rate schedules of
:mod:`vizapp.labs.schedules` (the same knobs, the same scheduler factory, stepped once per
epoch).

The loop reports through ``emit(record)``: :class:`StepRecord` (every few steps),
:class:`EpochRecord`, :class:`BNRecord` (running mean/var and γ/β per BatchNorm layer),
:class:`WatchRecord` (15/50/85th percentiles of one unit of a chosen layer's input, as in
Ioffe & Szegedy 2015, Fig. 1b,c) and :class:`Progress`; it returns a :class:`TrainResult`.
:class:`TrainRun` runs it in a background thread under the device lock and keeps the records
for a UI to poll. Nothing here imports Streamlit.

Batch order: epoch ``e`` visits the training images in the order
``torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1009 + e))`` (a last batch
of one image is dropped: BatchNorm cannot normalise it), so a hand-written loop can replay a
run exactly.

No global random state is touched: the batch order comes from its own generator (above), the
initial weights come with the model (build it seeded, e.g. ``build_model(spec, seed=s)``), and
the masks of dropout modules (``nn.Dropout``, ``Dropout1d/2d/3d``) come from a generator seeded
with ``seed`` on the training device, so identical seeds give identical curves whatever other
threads do with ``torch``'s global RNG (a model that calls ``F.dropout`` itself draws from the
global RNG and is not reproducible).

A run can be told to stop by an ``alive()`` callback (checked before every step and while it
waits for the device): when no browser session watches it any more, it stops.

A run can be watched by many sessions at once: :class:`RunRegistry` (:data:`RUNS`) gives every
session that asks for the same :func:`run_key` (model, settings, data, seed, device kind) the
same :class:`TrainRun` while it trains and the stored one once it has finished.

The package: :mod:`.settings` (knobs and their checks), :mod:`.records` (what a run emits and
returns), :mod:`.fit` (whether a run can start: data, precision, memory), :mod:`.loop` (the
loop and :func:`train`), :mod:`.background` (:class:`TrainRun` and what other pages use of a
finished run), :mod:`.shared` (one run per key for every session), :mod:`.link` (the Train
page's settings in a link) and :mod:`.weights` (the downloadable file). Everything public is
re-exported here: ``from vizapp.labs import train as T; T.train(...)``.
"""

from .background import Job, Trained, TrainRun, predict, same_architecture, trained_for, \
    trained_model
from .fit import (ACTIVATIONS, Outline, amp_dtype, check_fit, default_watch, estimate_spec,
                  estimate_training, outline, refresh_budget, train_dtype)
from .loop import (LOG_SECONDS, MAX_BN_CHANNELS, WORST, SeededDropout, batches, bn_layers,
                   epoch_order, gone_message, make_optimizer, seeded_dropout, train)
from .link import PageKnobs, TrainLink
from .records import BNRecord, EpochRecord, Progress, StepRecord, TrainResult, WatchRecord
from .settings import MAX_BATCH, MAX_EPOCHS, MAX_SECONDS, TrainError, TrainSettings, \
    settings_dict
from .shared import RUNS, Joined, RunRegistry, run_bytes, run_key
from .weights import evaluate, load_bytes, model_from_file, save_bytes

__all__ = ["Job", "Trained", "TrainRun", "predict", "same_architecture", "trained_for",
           "trained_model", "ACTIVATIONS", "Outline", "amp_dtype", "check_fit",
           "default_watch", "estimate_spec", "estimate_training", "outline", "refresh_budget",
           "train_dtype", "LOG_SECONDS", "MAX_BN_CHANNELS", "WORST", "SeededDropout",
           "batches", "bn_layers", "epoch_order", "gone_message", "make_optimizer",
           "seeded_dropout", "train", "BNRecord", "EpochRecord", "Progress", "StepRecord",
           "TrainResult", "WatchRecord", "MAX_BATCH", "MAX_EPOCHS", "MAX_SECONDS", "TrainError",
           "TrainSettings", "settings_dict", "evaluate", "load_bytes", "model_from_file",
           "save_bytes", "PageKnobs", "TrainLink", "RUNS", "Joined", "RunRegistry",
           "run_bytes", "run_key"]
