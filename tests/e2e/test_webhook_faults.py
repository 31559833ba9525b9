"""The webhooks under faults, short form (issue 23): the receiver down, the notifier killed.

On a private stack (`conftest.private_stack`) the platform and the notifier run while the
simulator flies 250 drones for 60 s. The business's endpoint is a real local HTTP receiver
(`loadtest.webhook_ledger.ChaosReceiver`) registered over the API for every delivery
event. It is down 18 s (503 for 6 s, then connection refused), and the notifier is
SIGKILLed once it is back, while posts are arriving (the backlog), then restarted.

Then the account against the deliveries topic, by identity: every delivery event of the
business reached the receiver (its message id answered 2xx), in order per delivery, a
repeat only under the same webhook-id with the same body, every signature verified on
arrival by the standardwebhooks package's own verifier. The long form (a minute down, a
kill during the outage and one during the backlog) is `make chaos`'s `webhooks-outage`.
"""

from __future__ import annotations

from typing import Any

import pytest

from loadtest.chaos import ScenarioResult, run_scenario
from loadtest.faults import webhooks_outage_scenario
from loadtest.private_stack import PrivateStack


@pytest.fixture(scope="module")
def result(private_stack: PrivateStack) -> ScenarioResult:
    scenario = webhooks_outage_scenario()
    return run_scenario(private_stack, scenario, private_stack.settings.home / "logs")


@pytest.fixture
def hooks(result: ScenarioResult) -> dict[str, Any]:
    assert result.webhooks is not None, "the scenario ran the notifier"
    return result.webhooks


def test_the_faults_struck_while_messages_flowed(
    result: ScenarioResult, hooks: dict[str, Any]
) -> None:
    assert [f.kind for f in result.faults] == ["receiver_down", "kill_notifier"]
    assert hooks["refused_while_down"] > 0, "posts came during the outage (answered 503)"
    assert hooks["posts_before_kills"][0] > 0, "the kill came while posts were arriving"
    assert hooks["expected"] > 200


def test_every_delivery_event_reached_the_receiver(hooks: dict[str, Any]) -> None:
    assert hooks["lost"] == 0
    assert hooks["delivered"] == hooks["expected"]
    assert hooks["notifier_behind"] == {"records_not_consumed": 0, "pending": 0, "dead": 0}


def test_in_order_per_delivery_and_repeats_only_under_the_same_id(
    hooks: dict[str, Any],
) -> None:
    assert hooks["out_of_order"] == 0
    assert hooks["ids_not_the_events"] == 0
    assert hooks["repeats_unlike_first"] == 0


def test_every_signature_verified_by_the_package(hooks: dict[str, Any]) -> None:
    assert hooks["bad_signatures"] == 0
    assert hooks["clean"] is True
