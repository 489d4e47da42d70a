"""Classes from the code box run their ``forward`` in vizapp's interpreter: what does that cost
against the same class run as plain Python? Prints the median forward+backward time of each and
their ratio, measured in the same run (``python bench/box_forward.py``)."""

from __future__ import annotations

import statistics
import sys
import time
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vizapp.custom import evaluate  # noqa: E402
from vizapp.zoo.custom import example  # noqa: E402

CASES = (("seed003-class", "seed003_class", (3, 6, 6), 256),
         ("d2l-resnet-class", "d2l_resnet_class", (1, 96, 96), 8))


def _plain(code: str) -> nn.Module:
    ns = {"torch": torch, "nn": nn, "F": F, "OrderedDict": OrderedDict}
    exec(compile(code, "<example>", "exec"), ns)  # noqa: S102 - vizapp's own example file
    return next(v for k, v in ns.items() if k in ("net", "model1") and isinstance(v, nn.Module))


def _median(model: nn.Module, x: torch.Tensor, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(x).sum().backward()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    torch.manual_seed(0)
    for name, file, shape, batch in CASES:
        code = example(file)
        plain = _plain(code)
        box = evaluate(code, shape)
        box.load_state_dict(plain.state_dict())
        x = torch.randn(batch, *shape)
        for m in (box, plain):
            _median(m, x, 2)  # warm up
        tb, tp = [], []
        for _ in range(5):  # interleaved, so both see the same machine load
            tb.append(_median(box, x, 5))
            tp.append(_median(plain, x, 5))
        b, p = statistics.median(tb), statistics.median(tp)
        print(f"{name:18} batch {batch:3}  box {b * 1e3:8.2f} ms  plain Python {p * 1e3:8.2f} ms"
              f"  ratio {b / p:.2f}")


if __name__ == "__main__":
    main()
