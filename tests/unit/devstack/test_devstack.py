"""The development stack's pure parts."""

from __future__ import annotations

import base64

import pytest

from devstack import kafka

pytestmark = pytest.mark.unit


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """`kafka-storage format -t -x...` reads the id as an option (found by `make chaos`)."""
    dash_first = bytes([0xF8]) + bytes(15)  # "-AAA..." in URL-safe base64
    plain = bytes(range(16))
    values = iter([dash_first, dash_first, plain])

    class DrawnUuid:
        def __init__(self) -> None:
            self.bytes = next(values)

    monkeypatch.setattr("uuid.uuid4", DrawnUuid)
    cluster_id = kafka._kafka_cluster_id()
    assert cluster_id == base64.urlsafe_b64encode(plain).decode().rstrip("=")
    assert len(cluster_id) == 22
