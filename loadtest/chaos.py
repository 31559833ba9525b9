"""Running a chaos scenario: the platform under load, faults on a timeline, the ledger.

Each scenario gets fresh topics and a fresh database on the private stack, starts the
sink, a stream worker and the API (and, for a scenario with webhooks, the notifier and a
receiver registered as the business's endpoint), flies the simulator, injects its
faults, restarts any service that died (as a supervisor would, and says so), waits until
the consumer groups have drained, then reads everything back (`loadtest.ledger`, and
`loadtest.webhook_ledger` for the webhooks). Recovery time per fault comes from the
consumer groups' offsets (`loadtest.lagwatch`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts import Topics, TopicSpec
from contracts.webhooks import ETA_CHANGED, WEBHOOK_TOPICS
from devstack.settings import StackSettings
from loadtest.faults import Fault, Scenario
from loadtest.lagwatch import LagWatch, recovery_s, wait_checkpoints, wait_drained
from loadtest.ledger import Figures, account, collect_sync, partitions_silent_since
from loadtest.outcomes import Outcomes, settle
from loadtest.platform import LOCAL_WEBHOOKS, Platform, simulator_summary
from loadtest.poison import SentPoison, poison_batch, send_poison
from loadtest.private_stack import PrivateStack
from loadtest.webhook_ledger import (
    ChaosReceiver,
    account_webhooks,
    expected_messages,
    wait_notifier_drained,
    wait_received,
)

log = logging.getLogger(__name__)


@dataclass
class Struck:
    """A fault as it happened: when it struck, when the hurt part was back."""

    kind: str
    at_s: float
    fault_at: float = field(repr=False)
    back_at: float = field(repr=False)
    note: str = ""
    recovery_s: dict[str, float | None] = field(default_factory=dict)
    back_wall_ms: int = field(default=0, repr=False)
    """When the hurt part was back, wall clock (to compare with Kafka's timestamps)."""
    silent_partitions: list[int] = field(default_factory=list)
    """Telemetry partitions the simulator never reached again after it was back."""


@dataclass
class ScenarioResult:
    """The figures of one scenario."""

    scenario: str
    events_asked: int
    simulator: dict[str, Any]
    figures: Figures
    faults: list[Struck]
    restarted_after_crash: list[str]
    lag_after_drain: dict[str, int]
    seconds: float
    load_average: float = 0.0
    """The machine's 1-minute load average when the run ended (2 cores: above 2 is queueing)."""
    deliveries: Outcomes = field(default_factory=Outcomes)
    """How the deliveries ended, after the drain (and `Scenario.settle_s`)."""
    webhooks: dict[str, Any] | None = None
    """The webhooks' account (`loadtest.webhook_ledger.WebhookFigures`), if the notifier ran."""

    def as_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {
            "scenario": self.scenario,
            "events_asked": self.events_asked,
            "simulator": self.simulator,
            "figures": self.figures.as_dict(),
            "faults": [
                {
                    k: v
                    for k, v in asdict(s).items()
                    if k not in ("fault_at", "back_at", "back_wall_ms")
                }
                for s in self.faults
            ],
            "restarted_after_crash": self.restarted_after_crash,
            "lag_after_drain": self.lag_after_drain,
            "seconds": round(self.seconds, 1),
            "load_average_1m_at_end": self.load_average,
            "deliveries": self.deliveries.as_dict(),
            **({"webhooks": self.webhooks} if self.webhooks is not None else {}),
        }


DELIVERY_TOPICS = [topic for topic in WEBHOOK_TOPICS if topic != ETA_CHANGED]
"""What the chaos receiver subscribes to: every delivery event (each one of the deliveries
topic is then expected at the receiver; the ETA changes depend on a threshold)."""


@dataclass
class _Webhooks:
    """The business's endpoint in a run: the receiver, and who registered it."""

    receiver: ChaosReceiver
    business_id: str
    endpoint_id: str

    @classmethod
    def start(cls, platform: Platform, scenario: Scenario) -> _Webhooks:
        """Start the notifier and the receiver, and register it over the API."""
        receiver = ChaosReceiver()
        try:
            platform.start_notifier(scenario.notifier_env)
            business, endpoint, secret = platform.register_webhook(receiver.url, DELIVERY_TOPICS)
        except BaseException:
            receiver.close()
            raise
        receiver.secret = secret
        return cls(receiver, business, endpoint)

    def account(self, bootstrap: str, dsn: str, topics: Topics) -> dict[str, Any]:
        """The deliveries topic against what the receiver answered 2xx.

        Once the notifier has drained, the topic is read, and each of its messages is
        given up to 120 s more to arrive: the stream workers may still record events
        (the missions of drones the stopped simulator left silent), and those are judged
        too; only events recorded after this read are not.
        """
        behind = wait_notifier_drained(bootstrap, dsn, topics, timeout_s=240)
        order, events = asyncio.run(
            expected_messages(bootstrap, topics, self.business_id, self.endpoint_id)
        )
        wait_received(self.receiver, events, timeout_s=120)
        figures = account_webhooks(
            order, events, self.receiver.snapshot(), self.endpoint_id, self.receiver.back_at
        )
        figures.notifier_behind = behind
        return figures.as_dict()


class _Injector:
    """Carries out faults on one platform and private stack."""

    def __init__(
        self,
        stack: PrivateStack,
        platform: Platform,
        telemetry_topic: str,
        scenario: Scenario,
        receiver: ChaosReceiver | None = None,
    ) -> None:
        self.stack = stack
        self.platform = platform
        self.telemetry_topic = telemetry_topic
        self.scenario = scenario
        self.receiver = receiver
        self.timers: list[threading.Timer] = []
        self.kill_posts: list[int] = []
        """Posts at the receiver in the second before each kill of the notifier."""
        self.simulator_runs: list[dict[str, Any]] = []
        """The summaries of the simulators a restart stopped (the last run's comes at the end)."""
        self.poison: list[SentPoison] = []
        self.crashed: list[str] = []

    def strike(self, fault: Fault, at_s: float) -> Struck:
        now = time.monotonic()
        kind = fault.kind
        if kind == "kill_worker":
            name = self.platform.workers()[0]
            self.platform.kill(name)
            self.platform.restart(name)
            return Struck(kind, at_s, now, time.monotonic(), f"{name} SIGKILLed and restarted")
        if kind == "add_worker":
            name = self.platform.add_worker()
            return Struck(kind, at_s, now, now, f"{name} started")
        if kind == "kill_first_worker":
            name = self.platform.workers()[0]
            self.platform.kill(name, for_good=True)
            return Struck(kind, at_s, now, time.monotonic(), f"{name} SIGKILLed for good")
        if kind == "restart_postgres":
            back = self.stack.restart_postgres(fault.seconds)
            return Struck(kind, at_s, now, back, f"down {fault.seconds:.0f}s")
        if kind == "restart_simulator":
            self.platform.services["simulator"].stop()  # SIGTERM: it ends its run, summarised
            self.simulator_runs.append(
                simulator_summary(self.platform.services["simulator"].log_file)
            )
            rest = max(self.scenario.duration_s - at_s, 1.0)
            # Another seed: a run's event ids come from its seed (runs are reproducible),
            # and the same seed would send the first run's ids again.
            again = [*self.scenario.simulator_args(rest), "--seed", str(len(self.simulator_runs))]
            self.platform.start_simulator(again, self.scenario.simulator_settings)
            return Struck(kind, at_s, now, time.monotonic(), f"a new simulator for {rest:.0f}s")
        if kind == "receiver_down":
            back = self._receiver_down(fault.seconds)
            note = f"503 for {fault.seconds / 3:.0f}s, then refused, {fault.seconds:.0f}s in all"
            return Struck(kind, at_s, now, back, note)
        if kind == "kill_notifier":
            posting = self._posts_arriving()
            self.kill_posts.append(posting)
            self.platform.kill("notifier")
            self.platform.restart("notifier")
            note = f"SIGKILLed ({posting} posts in its last second) and restarted"
            return Struck(kind, at_s, now, time.monotonic(), note)
        if kind == "stop_kafka":
            self.stack.stop_kafka()
            stopped = time.monotonic()
            time.sleep(max(fault.seconds - (stopped - now), 0.0))
            back = self.stack.start_kafka()
            note = f"down {back - now:.0f}s (the stop took {stopped - now:.0f}s)"
            return Struck(kind, at_s, now, back, note)
        records = poison_batch(datetime.now(UTC), len(self.poison))
        sent = asyncio.run(
            send_poison(self.stack.settings.kafka_bootstrap, self.telemetry_topic, records)
        )
        self.poison.extend(sent)
        return Struck(kind, at_s, now, now, f"{len(sent)} poison records")

    def _receiver_down(self, seconds: float) -> float:
        """Fail the receiver's posts now (503); timers make it refuse, then bring it back.

        Timers rather than a wait, so that the notifier's kills strike during the outage.
        """
        receiver = self.receiver
        if receiver is None:
            raise ValueError("receiver_down needs a scenario with webhooks")
        receiver.set_mode("503")
        for delay, mode in ((seconds / 3, "refused"), (seconds, "up")):
            timer = threading.Timer(delay, receiver.set_mode, (mode,))
            timer.daemon = True
            timer.start()
            self.timers.append(timer)
        return time.monotonic() + seconds

    def _posts_arriving(self, wait_s: float = 10.0) -> int:
        """Posts in the receiver's last second, once some arrive (mid-batch) or `wait_s` on.

        While the receiver is down nothing arrives: the kill strikes at once, with the
        notifier's retries waiting in its outbox.
        """
        receiver = self.receiver
        if receiver is None:
            return 0
        deadline = time.monotonic() + wait_s
        while receiver.answering and receiver.posts_since(0.5) == 0:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        return receiver.posts_since(1.0)

    def close(self) -> None:
        """Stop the timers and the receiver."""
        for timer in self.timers:
            timer.cancel()
        if self.receiver is not None:
            self.receiver.close()

    def revive(self) -> None:
        """Start again every service that died by itself; remember which."""
        for name in self.platform.dead():
            log.warning("%s died; restarting it", name)
            self.crashed.append(name)
            self.platform.restart(name)


def run_scenario(stack: PrivateStack, scenario: Scenario, logs: Path) -> ScenarioResult:
    """Run one scenario on the private stack; return its figures."""
    label = scenario.name.replace("-", "")[:12]
    topics = stack.new_topics(label)
    database = stack.new_database(label)
    platform = Platform(
        stack.settings, database, topics.prefix, logs / scenario.name, scenario.worker_env
    )
    bootstrap = stack.settings.kafka_bootstrap
    started = time.monotonic()
    if scenario.webhooks:
        platform.service_env["api"] = dict(LOCAL_WEBHOOKS)
    platform.start(workers=1)
    try:
        hooks = _Webhooks.start(platform, scenario) if scenario.webhooks else None
    except BaseException:
        platform.stop()
        raise
    receiver = hooks.receiver if hooks is not None else None
    injector = _Injector(stack, platform, topics.telemetry.name, scenario, receiver)
    webhooks = None
    struck: list[Struck] = []
    groups = [platform.gate_group, platform.deliveries_group, platform.sink_group]
    try:
        with LagWatch(bootstrap, groups) as watch:
            t0 = time.monotonic()
            platform.start_simulator(scenario.simulator_args(), scenario.simulator_settings)
            for fault in sorted(scenario.faults, key=lambda f: f.at_s):
                _sleep_until(t0 + fault.at_s, injector)
                log.info("%s: %s at %.0fs", scenario.name, fault.kind, fault.at_s)
                item = injector.strike(fault, time.monotonic() - t0)
                item.back_wall_ms = int((time.time() - (time.monotonic() - item.back_at)) * 1000)
                struck.append(item)
            last = _wait_simulator(platform, injector, scenario.duration_s + 180)
            summary = summed([*injector.simulator_runs, last])
            injector.revive()
            lag = wait_drained(bootstrap, consumed_topics(platform, topics), timeout_s=240)
            lag["sink checkpoints behind the topics"] = wait_checkpoints(
                bootstrap,
                stack.settings.dsn_for(database),
                sink_topics(topics),
                timeout_s=120,
            )
        for item in struck:
            item.recovery_s = {
                name: recovery_s(watch.series[group], item.back_at)
                for name, group in zip(("gate", "deliveries", "sink"), groups, strict=True)
            }
        outcomes = settle(bootstrap, topics, scenario.settle_s)
        observed = collect_sync(bootstrap, stack.settings.dsn_for(database), topics)
        for item in struck:
            item.silent_partitions = partitions_silent_since(
                observed.telemetry,
                topics.telemetry.partitions,
                item.back_wall_ms,
                not_the_simulators=[(p.partition, p.offset) for p in injector.poison],
            )
        if hooks is not None:
            webhooks = hooks.account(bootstrap, stack.settings.dsn_for(database), topics)
            webhooks["posts_before_kills"] = injector.kill_posts
    finally:
        injector.close()
        platform.stop()
    acked = int(summary.get("telemetry_sent", 0)) + len(injector.poison)
    figures = account(observed, acked, injector.poison)
    stack.postgres.drop_database(database)
    stack.delete_topics(topics)
    return ScenarioResult(
        scenario=scenario.name,
        events_asked=scenario.events,
        simulator=summary,
        figures=figures,
        faults=struck,
        restarted_after_crash=injector.crashed,
        lag_after_drain=lag,
        seconds=time.monotonic() - started,
        load_average=round(os.getloadavg()[0], 1),
        deliveries=outcomes,
        webhooks=webhooks,
    )


NOT_ADDED = frozenset({"drones", "telemetry_per_s", "asked_per_s", "speedup"})
"""Summary values of a simulator run that are settings or rates, not counts."""


def summed(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One summary of the simulator's runs (a restart makes two): counts added up."""
    total: dict[str, Any] = {}
    for run in runs:
        for key, value in run.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and key not in NOT_ADDED and isinstance(total.get(key), int | float):
                total[key] += value
            else:
                total[key] = value
    return total


def sink_topics(topics: Topics) -> list[TopicSpec]:
    """The topics the projection sink writes into the database.

    Telemetry is what the gate accepted (`accepted-telemetry`, see `projections.sink`).
    """
    return [topics.accepted_telemetry, topics.tracking, topics.deliveries, topics.deadletter]


def consumed_topics(platform: Platform, topics: Topics) -> dict[str, list[TopicSpec]]:
    """Each consumer group and the topics it must have drained."""
    return {**platform.worker_inputs, platform.sink_group: sink_topics(topics)}


def _sleep_until(deadline: float, injector: _Injector) -> None:
    while time.monotonic() < deadline:
        injector.revive()
        time.sleep(min(0.5, max(deadline - time.monotonic(), 0.0)))


def _wait_simulator(platform: Platform, injector: _Injector, timeout_s: float) -> dict[str, Any]:
    simulator = platform.services["simulator"]
    deadline = time.monotonic() + timeout_s
    while simulator.alive() and time.monotonic() < deadline:
        injector.revive()
        time.sleep(0.5)
    return platform.wait_simulator(0.0)


def run_all(
    scenarios: list[Scenario],
    home: Path | None,
    logs: Path | None = None,
    on_result: Callable[[list[ScenarioResult]], object] | None = None,
) -> list[ScenarioResult]:
    """Start a private stack, run the scenarios one after the other, stop the stack.

    `on_result` gets the results so far after each scenario (to write them as they come).
    """
    from loadtest.private_stack import private_settings

    settings: StackSettings = private_settings(home)
    stack = PrivateStack(settings, remove_home=home is None)
    logs = logs or settings.home / "logs"
    try:
        stack.up()
        results: list[ScenarioResult] = []
        for scenario in scenarios:
            try:
                results.append(run_scenario(stack, scenario, logs))
            except Exception:
                # One broken scenario must not cost the figures of the others.
                log.exception("scenario %s failed; going on with the next", scenario.name)
                continue
            if on_result is not None:
                on_result(results)
        return results
    finally:
        stack.down()
