"""The OpenAPI document carries the contracts' vocabularies as enums, sockets included.

The live map's TypeScript types are generated from this document, so these enums are
what makes a new status fail the page's type check: each must equal its `Literal` in the
contracts, and the websocket messages must be in the document at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest

from api.cli import main, openapi_document
from contracts import DeliveryStatus, DronePhase, TrackingStatus

SCHEMAS: dict[str, Any] = json.loads(openapi_document())["components"]["schemas"]


@pytest.mark.parametrize(
    ("schema", "field", "vocabulary"),
    [
        ("DeliveryStatusPublic", "status", DeliveryStatus),  # the view folds the aggregate
        ("TrackingMessagePublic", "status", TrackingStatus),  # a TrackingUpdated
        ("TrackingStateMessagePublic", "status", TrackingStatus),  # what a customer is shown
        ("FleetUpdatePublic", "status", TrackingStatus),
        ("DronePublic", "phase", DronePhase),
    ],
)
def test_each_status_field_is_the_enum_of_its_contract(
    schema: str, field: str, vocabulary: Any
) -> None:
    assert SCHEMAS[schema]["properties"][field]["enum"] == list(get_args(vocabulary))


def test_the_socket_messages_are_component_schemas() -> None:
    for name in (
        "TrackingMessagePublic",
        "TrackingStateMessagePublic",
        "FleetSnapshotPublic",
        "FleetUpdatePublic",
    ):
        assert SCHEMAS[name]["type"] == "object", name
    drones = SCHEMAS["FleetSnapshotPublic"]["properties"]["drones"]["items"]
    assert drones == {"$ref": "#/components/schemas/DronePublic"}


def test_every_reference_of_the_document_resolves() -> None:
    prefix = "#/components/schemas/"
    for reference in set(_references(json.loads(openapi_document()))):
        assert reference.startswith(prefix), reference
        assert reference.removeprefix(prefix) in SCHEMAS, reference


def test_the_cli_writes_the_document_without_kafka_or_postgresql(tmp_path: Path) -> None:
    path = tmp_path / "openapi.json"
    main(["openapi", str(path)])
    assert json.loads(path.read_text(encoding="utf-8"))["components"]["schemas"] == SCHEMAS


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [name for value in node.values() for name in _references(value)]
    if isinstance(node, list):
        return [name for value in node for name in _references(value)]
    return []
