"""The CLI refuses bad options before it connects to anything."""

from __future__ import annotations

import pytest

from simulator.cli import main


def test_the_cli_refuses_a_bad_chaos_option_before_connecting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--chaos", "drop=1,lose=2", "--duration", "1"])
    assert exited.value.code == 2
    assert "chaos" in capsys.readouterr().err
