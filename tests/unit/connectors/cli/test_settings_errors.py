"""A bad setting in the environment is one readable line naming the variable, exit 2 (in-process ``main``)."""

from __future__ import annotations

import pytest

from connectors.cli.main import main
from streams.settings import get_settings


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("WIREREPORT_SCALING_HEADROOM_QUANTILE", "2", "Input should be less than 1 (got '2')"),
        ("WIREREPORT_SCALING_MAX_AGENTS", "lots", "Input should be a valid integer"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(monkeypatch, capsys, variable, value, problem):
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        assert main(["backtest", "scaling", "--input", "-", "--out", "-"]) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"wirereport: error: bad setting {variable}: ") and problem in err
    assert len(err.splitlines()) == 1
