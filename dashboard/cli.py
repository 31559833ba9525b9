"""`dronefleet-dashboard`: serve the Streamlit app on the configured address and port.

Streamlit's own CLI runs it (`streamlit run dashboard/app.py`); this wrapper takes the
port and address from `DashboardSettings`, so the dashboard is configured like every
other service, through `DRONEFLEET_DASHBOARD_*` variables. Extra arguments go to
Streamlit as they are (e.g. `--theme.base dark`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dashboard.settings import DashboardSettings

APP = Path(__file__).with_name("app.py")


def streamlit_argv(settings: DashboardSettings, extra: list[str]) -> list[str]:
    """The `streamlit run` command line for these settings."""
    return [
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(settings.port),
        "--server.address",
        settings.address,
        "--server.headless",
        "true",
        # No telemetry calls home, no file watcher: this is a server, not a dev session.
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
        *extra,
    ]


def main(argv: list[str] | None = None) -> None:
    """Run Streamlit's server in this process until it is stopped."""
    from streamlit.web import cli as streamlit_cli

    sys.argv = streamlit_argv(DashboardSettings(), list(sys.argv[1:] if argv is None else argv))
    sys.exit(streamlit_cli.main())
