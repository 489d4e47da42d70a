"""The BatchNorm page's seed-demo table shows all three channels, with the numbers torch gives
for seed 003's ``torch.manual_seed(S); x = torch.randn(4, 3, 2, 2)`` (computed here again)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

MAIN = str(Path(__file__).resolve().parents[1] / "vizapp" / "main.py")


def test_demo_table_has_three_channels_with_torchs_numbers() -> None:
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(MAIN, default_timeout=180)
    at.query_params["model"] = "lenet-bn"
    at.run()
    at.switch_page("app_pages/batchnorm.py").run()
    assert not at.exception, [e.value for e in at.exception]
    tables = [df.value for df in at.dataframe if "ch 2" in list(df.value.columns)]
    assert len(tables) == 1
    t = tables[0]
    assert [c for c in t.columns if c.startswith("ch ")] == ["ch 0", "ch 1", "ch 2"]
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2, 2)
    mean = x.mean(dim=(0, 2, 3))
    var_u = x.var(dim=(0, 2, 3), unbiased=True)
    by_name = {row[""]: row for _, row in t.iterrows()}
    for j in range(3):
        assert by_name["batch mean"][f"ch {j}"] == pytest.approx(float(mean[j]), abs=1e-5)
        assert by_name["var unbiased (÷15)"][f"ch {j}"] == pytest.approx(float(var_u[j]), abs=1e-5)
        assert by_name["running_mean, momentum 0.1"][f"ch {j}"] == pytest.approx(
            0.1 * float(mean[j]), abs=1e-5)
