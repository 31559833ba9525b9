"""Who may do what on the broker: one principal per service, one table of grants.

Why: a broker that accepts anyone lets any process that reaches it write drone reports,
delivery commands or delivery events (issue 22). With SASL/SCRAM each service logs in
as its own user, and the broker's authorizer (`StandardAuthorizer`, nothing allowed
without an ACL) lets it touch only what this table grants: the simulator writes
telemetry, delivery commands and the airspace, and reads delivery events, but may not
write them; only the stream worker (the delivery aggregate) and the API (a delivery's
first event, its request) write `deliveries`. The table is the one place the grants are
written: the local stack applies it (`devstack`), and so does the `dronefleet
kafka-acls` command that Compose and Kubernetes run as a one-shot job.

Group and internal-topic names follow each service's settings (the stream worker's
`app_id`, `projections-<name>`, `notifier`), with the topic prefix in front; kafkaio may
import no service, so `tests/unit/kafkaio/test_acls.py` checks the names against the
services' own settings.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import SecretStr

from contracts import Topics
from kafkaio.connection import Broker, confluent_options, connection

ADMIN = "admin"
"""The broker's super user: creates topics, users and ACLs; no service runs as it."""

PRINCIPALS = ("simulator", "streams", "projections", "api", "notifier", "dashboard")
"""The services' users, one each (Compose and Kubernetes give each its own password)."""

STREAMS_APP_ID = "dronefleet-streams"
"""`streams.settings.StreamsSettings.app_id`'s default: the worker's groups, its tables'
changelogs, its rebuild horizon and Faust's own topics all start with it."""

Resource = Literal["TOPIC", "GROUP"]
Operation = Literal["READ", "WRITE", "DESCRIBE", "ALL"]
ScramMechanismName = Literal["SCRAM-SHA-512", "SCRAM-SHA-256"]


@dataclass(frozen=True, slots=True, order=True)
class Grant:
    """ALLOW `principal` to `operation` on a topic or group (a name, or a name prefix)."""

    principal: str
    resource: Resource
    name: str
    operation: Operation
    prefixed: bool = False

    def covers(self, resource: Resource, name: str) -> bool:
        """True when this grant's pattern matches `name`."""
        if resource != self.resource:
            return False
        return name.startswith(self.name) if self.prefixed else name == self.name


def grants(topics: Topics, streams_app_id: str = STREAMS_APP_ID) -> list[Grant]:
    """Every service's grants on the platform with `topics` (and their prefix).

    READ and WRITE imply DESCRIBE in Kafka's authorizer; an idempotent producer needs
    WRITE on some topic (no cluster grant, KIP-679).
    """
    t = topics
    prefix = t.prefix
    app = f"{prefix}{streams_app_id}"

    def on(principal: str, operation: Operation, *names: str) -> list[Grant]:
        return [Grant(principal, "TOPIC", name, operation) for name in names]

    table = [
        # The simulator: the drones' reports and their commands (pickup, drop-off,
        # abort), the scenario's airspace; it follows delivery events, never writes one.
        *on("simulator", "WRITE", t.telemetry.name, t.delivery_commands.name, t.airspace.name),
        *on("simulator", "READ", t.deliveries.name, t.airspace.name),
        # The stream worker: the gate, the delivery aggregate, dispatch, tracking.
        *on(
            "streams",
            "READ",
            t.telemetry.name,
            t.deliveries.name,
            t.delivery_commands.name,
            t.delivery_telemetry.name,
            t.dispatch.name,
            t.airspace.name,
        ),
        *on(
            "streams",
            "WRITE",
            t.deliveries.name,
            t.delivery_commands.name,
            t.delivery_telemetry.name,
            t.accepted_telemetry.name,
            t.tracking.name,
            t.dispatch.name,
            t.deadletter.name,
        ),
        # Its tables' changelogs, its rebuild horizon and Faust's own topics (created,
        # and re-created by a reset) and its three groups: everything under its app id.
        Grant("streams", "TOPIC", app, "ALL", prefixed=True),
        Grant("streams", "GROUP", app, "ALL", prefixed=True),
        # Its lag exporter (`dronefleet-streams lag`) watches the sink's group too.
        Grant("streams", "GROUP", f"{prefix}projections-", "DESCRIBE", prefixed=True),
        # The API: a delivery's request (its first event), commands, businesses' events.
        *on("api", "WRITE", t.deliveries.name, t.delivery_commands.name, t.businesses.name),
        *on("api", "READ", t.tracking.name, t.airspace.name, t.businesses.name),
        # The projection sink (and its rebuild): what it projects, in its groups.
        *on(
            "projections",
            "READ",
            t.accepted_telemetry.name,
            t.tracking.name,
            t.deliveries.name,
            t.businesses.name,
            t.airspace.name,
            t.deadletter.name,
        ),
        Grant("projections", "GROUP", f"{prefix}projections-", "READ", prefixed=True),
        # The notifier: delivery events, tracking (ETA changes), businesses' endpoints.
        *on("notifier", "READ", t.businesses.name, t.deliveries.name, t.tracking.name),
        Grant("notifier", "GROUP", f"{prefix}notifier", "READ"),
        # The dashboard's lag panel: end offsets and the groups' committed offsets only.
        *on("dashboard", "DESCRIBE", *(spec.name for spec in t.all())),
        Grant("dashboard", "GROUP", app, "DESCRIBE", prefixed=True),
        Grant("dashboard", "GROUP", f"{prefix}projections-", "DESCRIBE", prefixed=True),
    ]
    return sorted(set(table))


def allowed(
    table: Iterable[Grant], principal: str, resource: Resource, name: str, operation: Operation
) -> bool:
    """What the broker's authorizer would answer for this table (no deny rules here)."""
    implied: dict[Operation, set[Operation]] = {
        "READ": {"READ", "ALL"},
        "WRITE": {"WRITE", "ALL"},
        "DESCRIBE": {"DESCRIBE", "READ", "WRITE", "ALL"},
        "ALL": {"ALL"},
    }
    return any(
        grant.principal == principal
        and grant.operation in implied[operation]
        and grant.covers(resource, name)
        for grant in table
    )


def apply_security(
    admin: Broker,
    table: Iterable[Grant],
    passwords: Mapping[str, SecretStr],
    *,
    mechanism: ScramMechanismName = "SCRAM-SHA-512",
    timeout_s: float = 30.0,
) -> None:
    """Create (or update) each principal's SCRAM user and add the table's ACLs.

    `admin`: a connection as the super user; the users log in with `mechanism`.
    Idempotent: users are upserted, an ACL the broker has already is not an error. ACLs
    of an older table are not removed.
    """
    # Public names (the package's documented API) that it re-exports without __all__.
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        AclBinding,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
        ResourceType,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    conn = connection(admin)
    client = AdminClient(confluent_options(conn))
    scram = ScramMechanism[mechanism.replace("-", "_")]
    upserts: list[Any] = [
        UserScramCredentialUpsertion(
            user, ScramCredentialInfo(scram, 8192), password.get_secret_value().encode()
        )
        for user, password in sorted(passwords.items())
    ]
    if upserts:
        for future in client.alter_user_scram_credentials(
            upserts, request_timeout=timeout_s
        ).values():
            future.result()
        _until_described(client, sorted(passwords), timeout_s)
    bindings = [
        AclBinding(
            ResourceType[grant.resource],
            grant.name,
            ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
            f"User:{grant.principal}",
            "*",
            AclOperation[grant.operation],
            AclPermissionType.ALLOW,
        )
        for grant in table
    ]
    if bindings:
        for future in client.create_acls(bindings, request_timeout=timeout_s).values():
            future.result()


def _until_described(client: Any, users: list[str], timeout_s: float) -> None:
    """Wait until the broker describes every user: its credentials are then in force.

    The admin API answers once the controller has the change; the broker learns it from
    the metadata log a moment later, and a client logging in just then was refused (a
    test's first producer, right after the stack made its users).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            for future in client.describe_user_scram_credentials(
                users, request_timeout=timeout_s
            ).values():
                future.result()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
