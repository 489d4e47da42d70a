"""``vizapp train PRESET``: train the configuration on offline data, one line per epoch."""

from __future__ import annotations

import argparse
import json
import sys

from vizapp.i18n import N_, _, tr

from .common import add_model_args, spec_from_args

# a run's status as its text line starts (JSON keeps the status itself)
STATUS = {"done": N_("done"), "stopped": N_("stopped"), "timeout": N_("timeout"),
          "nan": N_("nan"), "oom": N_("oom")}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train the model on offline data (digits, shapes, a folder or a zip)",
        description="Train a copy of the model with SGD (momentum) or Adam and an optional "
                    "LR schedule (the LR schedules page's), printing one line per epoch "
                    "(--format json: one JSON object per line). Nothing is downloaded.")
    add_model_args(p)
    p.add_argument("--data", default="digits",
                   help="digits (sklearn's 8×8 digits), shapes or shapes:N (generated), a "
                        "torchvision MNIST/FashionMNIST/CIFAR10 folder, or a zip of class "
                        "folders")
    p.add_argument("--epochs", type=int, default=5, metavar="E")
    p.add_argument("--lr", type=float, default=0.9, metavar="LR", help="initial learning rate")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", default="none", metavar="NAME",
                   help="none or a torch scheduler: StepLR, MultiStepLR, ExponentialLR, "
                        "CosineAnnealingLR, ReduceLROnPlateau, LambdaLR, OneCycleLR, "
                        "CosineAnnealingWarmRestarts")
    p.add_argument("--schedule-arg", dest="schedule_args", action="append", default=[],
                   metavar="K=V", help="a schedule knob, e.g. --schedule-arg step_size=2")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=600.0, help="time cap of the run")
    p.add_argument("--save", metavar="FILE", help="write the trained state_dict and the "
                   "configuration (torch.load(FILE, weights_only=True) reads it)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace):
    from vizapp.labs.train import MAX_BATCH, TrainSettings

    from .errors import UserError

    sargs = []
    for item in args.schedule_args:
        if "=" not in item:
            raise UserError(f"--schedule-arg takes K=V, got '{item}'")
        k, v = item.split("=", 1)
        sargs.append((k.strip(), v.strip()))
    if args.schedule_args and args.schedule == "none":
        raise UserError("--schedule-arg needs --schedule NAME")
    batch = args.batch if args.batch is not None else 64
    if not 2 <= batch <= MAX_BATCH:
        raise UserError(f"--batch must be between 2 and {MAX_BATCH}, got {batch}")
    return TrainSettings(optimizer=args.optimizer, lr=args.lr, momentum=args.momentum,
                         weight_decay=args.weight_decay, batch_size=batch, epochs=args.epochs,
                         schedule=args.schedule, seed=args.seed,
                         max_seconds=args.max_seconds, schedule_args=tuple(sargs),
                         device=args.device)


def run(args: argparse.Namespace) -> int:
    from vizapp.labs import data as train_data
    from vizapp.labs import train as train_lab
    from vizapp.zoo import build_model, codec

    from .errors import UserError

    settings = settings_from_args(args)
    try:
        settings.validate()
        spec = spec_from_args(args)
        ds = train_data.load(train_data.DataChoice.parse(args.data, args.seed),
                             spec.input_shape, spec.config.num_classes)
        model = build_model(spec, seed=args.seed)
    except (train_lab.TrainError, train_data.DataError) as exc:
        raise UserError(str(exc)) from None
    if args.format == "text":
        print(_("{label} on {data}").format(label=spec.label, data=ds.summary()), flush=True)

    def emit(r) -> None:
        if isinstance(r, train_lab.EpochRecord):
            print(json.dumps(r.to_dict()) if args.format == "json" else format_epoch(r, settings),
                  flush=True)

    try:
        res = train_lab.train(model, ds, settings, label=spec.label, emit=emit,
                              config=codec.to_dict(spec), in_place=True)  # built for this run
    except train_lab.TrainError as exc:
        raise UserError(str(exc)) from None
    if not res.ok:
        raise UserError(res.message)
    if args.save:
        with open(args.save, "wb") as f:
            f.write(train_lab.save_bytes(res))
    if args.format == "text":
        print(_("{status}: {message} in {seconds} s on {device} ({precision})").format(
            status=tr(STATUS.get(res.status, res.status)), message=tr(res.message),
            seconds=f"{res.seconds:.1f}", device=res.device, precision=res.precision)
            + (_("; saved to {path}").format(path=args.save) if args.save else ""))
    elif res.status != "done":
        print(f"vizapp train: {tr(res.message)}", file=sys.stderr)
    return 0


def format_epoch(r, s) -> str:
    return _("epoch {epoch}/{epochs}  train loss {train_loss} acc {train_acc}%   val loss "
             "{val_loss} acc {val_acc}%   lr {lr}   {seconds} s  {rate} img/s").format(
        epoch=f"{r.epoch:>3}", epochs=s.epochs, train_loss=f"{r.train_loss:.4f}",
        train_acc=f"{100 * r.train_acc:5.1f}", val_loss=f"{r.val_loss:.4f}",
        val_acc=f"{100 * r.val_acc:5.1f}", lr=f"{r.lr:.4g}", seconds=f"{r.seconds:.2f}",
        rate=f"{r.images_per_s:,.0f}")
