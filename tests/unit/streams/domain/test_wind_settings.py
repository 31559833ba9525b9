"""The wind model's and the ETA's parameters are the stream worker's settings (issue 19).

Through the settings object, read from an env file (`DRONEFLEET_STREAMS_...` names, as
an operator sets them) rather than the test process's environment: the worker's
composition root (`streams.runtime.worker`) hands them to the pure code, where they
change what it computes.
"""

from __future__ import annotations

from pathlib import Path

from contracts import GeoPoint
from streams.domain.wind import WindEstimator, WindModel
from streams.runtime.worker import eta_model, wind_model
from streams.settings import StreamsSettings

WEST, EAST = GeoPoint(47.3801, 8.5200), GeoPoint(47.3801, 8.5330)  # 980 m, one 2 km cell


def settings_from(tmp_path: Path, lines: str) -> StreamsSettings:
    env = tmp_path / "streams.env"
    env.write_text(lines)
    return StreamsSettings(_env_file=env)  # type: ignore[call-arg]


def test_the_defaults_are_the_wind_model_s_own() -> None:
    settings = StreamsSettings()
    built = wind_model(settings, eta_model(settings))
    assert built == WindModel(airspeed_mps=settings.cruise_speed_mps)


def test_an_operator_s_cell_size_changes_the_cells_the_wind_is_learned_in(tmp_path: Path) -> None:
    default = StreamsSettings()
    coarse = WindEstimator(wind_model(default, eta_model(default)))
    assert coarse.cell(WEST.lat, WEST.lon) == coarse.cell(EAST.lat, EAST.lon)
    settings = settings_from(tmp_path, "DRONEFLEET_STREAMS_WIND_CELL_M=250\n")
    fine = WindEstimator(wind_model(settings, eta_model(settings)))
    assert fine.model.cell_m == 250.0
    assert fine.cell(WEST.lat, WEST.lon) != fine.cell(EAST.lat, EAST.lon)


def test_every_wind_and_braking_setting_reaches_the_pure_code(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        "\n".join(
            [
                "DRONEFLEET_STREAMS_WIND_HALF_LIFE_S=120",
                "DRONEFLEET_STREAMS_WIND_MIN_FIXES=7",
                "DRONEFLEET_STREAMS_WIND_MIN_SPREAD_MPS=0.5",
                "DRONEFLEET_STREAMS_WIND_MAX_FRACTION=0.6",
                "DRONEFLEET_STREAMS_WIND_MAX_CELLS=99",
                "DRONEFLEET_STREAMS_WIND_RESOLVE_S=1",
                "DRONEFLEET_STREAMS_WIND_RETIME_S=12",
                "DRONEFLEET_STREAMS_WIND_STEADY_TOLERANCE_MPS=0.25",
                "DRONEFLEET_STREAMS_CRUISE_SPEED_MPS=12",
                "DRONEFLEET_STREAMS_ACCELERATION_MPS2=2",
                "DRONEFLEET_STREAMS_DECELERATION_MPS2=3",
            ]
        ),
    )
    eta = eta_model(settings)
    built = wind_model(settings, eta)
    assert (built.half_life_s, built.min_weight, built.min_spread_mps) == (120.0, 7.0, 0.5)
    assert (built.max_wind_fraction, built.max_cells, built.resolve_s) == (0.6, 99, 1.0)
    assert (built.retime_s, built.steady_tolerance_mps) == (12.0, 0.25)
    assert built.airspeed_mps == 12.0 and built.min_speed_fraction == eta.min_speed_fraction
    assert (eta.acceleration_mps2, eta.deceleration_mps2) == (2.0, 3.0)
    # 1,200 m at 12 m/s: 100 s, plus 12/(2*2) speeding up and 12/(2*3) braking.
    assert abs(eta.horizontal_s(1_200.0) - 105.0) < 1e-9


def test_the_wind_can_be_switched_off() -> None:
    assert StreamsSettings().wind_enabled
    assert not StreamsSettings(wind_enabled=False).wind_enabled
