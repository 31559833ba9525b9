"""The Faust app's broker options: its URL and, over SASL, its credentials.

Here, not in kafkaio beside the other libraries' options: Faust is the stream worker's
framework alone, and kafkaio is imported by the operator tools, which must never build
(or import) the worker (`pyproject.toml`'s import contracts).
"""

from __future__ import annotations

import ssl
from typing import Any

from faust import SASLCredentials

from kafkaio.connection import Broker, connection


def faust_options(broker: Broker) -> dict[str, Any]:
    """Keyword arguments for a Faust app: its broker URL and, over SASL, its credentials."""
    conn = connection(broker)
    options: dict[str, Any] = {"broker": f"kafka://{conn.bootstrap}"}
    if conn.sasl:
        assert conn.password is not None
        options["broker_credentials"] = SASLCredentials(
            username=conn.username,
            password=conn.password.get_secret_value(),
            mechanism=conn.sasl_mechanism,
            ssl_context=ssl.create_default_context()
            if conn.security_protocol == "SASL_SSL"
            else None,
        )
    return options
