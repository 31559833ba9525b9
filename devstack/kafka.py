"""A single-node Apache Kafka (KRaft, combined broker and controller) from Maven jars.

The jars come from Maven Central through `mvn dependency:copy-dependencies` on the
small pom next to this file, cached under `.cache/kafka/<version>/libs`; the broker runs
as `java -cp 'libs/*' kafka.Kafka server.properties` once its storage is formatted.
With `DRONEFLEET_STACK_KAFKA_SASL=true` it listens with SASL only and authorizes every
request against the ACLs of `kafkaio.acls` (`KafkaNode.secure` creates users and ACLs).
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from aiokafka.admin import NewTopic
from aiokafka.errors import KafkaError

from contracts import Topics, TopicSpec
from devstack.errors import MissingToolError, ServiceStartError
from devstack.processes import port_open, read_pid, start_background, stop_pid, tail
from devstack.settings import StackSettings
from kafkaio.acls import ADMIN, PRINCIPALS, apply_security, grants
from kafkaio.admin import admin_client, create_missing_topics
from kafkaio.connection import Broker

POM = Path(__file__).resolve().parent / "kafka" / "pom.xml"

SERVER_PROPERTIES = """\
# Written by `dronefleet stack up`; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:{controller_port}
{listeners}log.dirs={data_dir}
num.partitions=4
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.check.interval.ms=60000
"""

PLAINTEXT_LISTENERS = """\
listeners=PLAINTEXT://localhost:{port},CONTROLLER://localhost:{controller_port}
advertised.listeners=PLAINTEXT://localhost:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
"""

SASL_LISTENERS = """\
# DRONEFLEET_STACK_KAFKA_SASL=true: nobody in without a user and a password, and
# nothing allowed without an ACL (kafkaio.acls). The super user `admin` logs in with
# PLAIN, its password in this file (no user exists yet when the broker first starts);
# the services with SCRAM-SHA-512, their users created by `admin` through the admin API.
listeners=SASL_PLAINTEXT://localhost:{port},CONTROLLER://localhost:{controller_port}
advertised.listeners=SASL_PLAINTEXT://localhost:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
inter.broker.listener.name=SASL_PLAINTEXT
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=PLAIN
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config={plain_jaas}
listener.name.sasl_plaintext.plain.sasl.jaas.config={plain_jaas}
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:{admin}
allow.everyone.if.no.acl.found=false
"""

LOG4J2 = """\
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=FILE
appender.file.type=File
appender.file.name=FILE
appender.file.fileName={log_file}
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
logger.kafka.name=kafka
logger.kafka.level=INFO
logger.state.name=state.change.logger
logger.state.level=WARN
"""


class KafkaNode:
    """The local broker: fetch, configure, start, check and stop it."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.home = settings.home / "kafka"
        self.libs = settings.cache / "kafka" / settings.kafka_version / "libs"
        self.data_dir = self.home / "data"
        self.config_file = self.home / "server.properties"
        self.log4j_file = self.home / "log4j2.properties"
        self.server_log = self.home / "server.log"
        self.stdout_log = self.home / "stdout.log"
        self.pid_file = self.home / "kafka.pid"

    @property
    def classpath(self) -> str:
        """The JVM classpath of the broker and its tools."""
        return f"{self.libs}/*"

    def fetch(self) -> None:
        """Download the broker's jars with Maven unless they are cached."""
        if any(self.libs.glob("kafka_2.13-*.jar")):
            return
        require_java()
        if shutil.which("mvn") is None:
            raise MissingToolError("Maven", "apt-get install -y maven")
        self.libs.mkdir(parents=True, exist_ok=True)
        print(f"fetching Apache Kafka {self.settings.kafka_version} jars from Maven Central...")
        result = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(POM),
                f"-Dkafka.version={self.settings.kafka_version}",
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(self.libs, ignore_errors=True)
            raise ServiceStartError(
                "mvn could not fetch the Kafka jars:\n"
                + result.stdout[-3000:]
                + result.stderr[-3000:]
            )

    def configure(self) -> None:
        """Write server.properties and log4j2.properties; format storage once."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            SERVER_PROPERTIES.format(
                listeners=self._listeners(),
                controller_port=self.settings.kafka_controller_port,
                data_dir=self.data_dir,
            )
        )
        self.config_file.chmod(0o600)  # with SASL on, it holds the super user's password
        self.log4j_file.write_text(LOG4J2.format(log_file=self.server_log))
        if (self.data_dir / "meta.properties").exists():
            return
        cluster_id = _kafka_cluster_id()
        result = subprocess.run(
            [
                *self._java(),
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.config_file),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServiceStartError("formatting KRaft storage failed:\n" + result.stderr[-3000:])

    def _listeners(self) -> str:
        """The listener lines: PLAINTEXT, or SASL with the authorizer (`kafka_sasl`)."""
        ports = {
            "port": self.settings.kafka_port,
            "controller_port": self.settings.kafka_controller_port,
        }
        if not self.settings.kafka_sasl:
            return PLAINTEXT_LISTENERS.format(**ports)
        password = self.settings.kafka_password(ADMIN).get_secret_value()
        plain_jaas = (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{ADMIN}" password="{password}" user_{ADMIN}="{password}";'
        )
        return SASL_LISTENERS.format(**ports, plain_jaas=plain_jaas, admin=ADMIN)

    def secure(self, topics: Topics) -> None:
        """Create the services' users and the ACLs of `topics`' layout (`kafkaio.acls`).

        Only with `kafka_sasl`; idempotent, so every `stack up` (and every test's own
        topic prefix) applies it.
        """
        if not self.settings.kafka_sasl:
            return
        apply_security(
            self.settings.kafka,
            grants(topics),
            {user: self.settings.kafka_password(user) for user in PRINCIPALS},
        )

    def start(self) -> bool:
        """Start the broker unless it runs; True when this call started it."""
        if self.pid() is not None:
            return False
        if port_open(self.settings.kafka_port):
            raise ServiceStartError(
                f"port {self.settings.kafka_port} is taken by another program; "
                "set DRONEFLEET_STACK_KAFKA_PORT to a free port"
            )
        require_java()
        self.fetch()
        self.configure()
        start_background(
            [
                *self._java(f"-Xmx{self.settings.kafka_heap}", "-Xms256m", "-XX:+UseG1GC"),
                "kafka.Kafka",
                str(self.config_file),
            ],
            self.stdout_log,
            self.pid_file,
        )
        return True

    def pid(self) -> int | None:
        """The broker's pid when it runs."""
        return read_pid(self.pid_file)

    def wait_healthy(self, timeout_s: float) -> None:
        """Block until the broker answers a metadata request, or raise."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise ServiceStartError(
                    f"Kafka exited during start-up; last lines of {self.server_log}:\n"
                    + tail(self.server_log)
                    + "\n"
                    + tail(self.stdout_log)
                )
            if self.healthy():
                return
            time.sleep(0.5)
        raise ServiceStartError(
            f"Kafka did not become healthy in {timeout_s:.0f}s; see {self.server_log}:\n"
            + tail(self.server_log)
        )

    def healthy(self) -> bool:
        """True when the broker answers a metadata request."""
        if not port_open(self.settings.kafka_port):
            return False
        try:
            asyncio.run(self._list_topics())
        except (KafkaError, OSError, TimeoutError):
            return False
        return True

    def create_topics(self, specs: tuple[TopicSpec, ...]) -> list[str]:
        """Create the topics that do not exist yet; return the names created."""
        return asyncio.run(self._create_topics(specs))

    def stop(self) -> bool:
        """Stop the broker if it runs (controlled shutdown); True when it was running."""
        pid = self.pid()
        if pid is None:
            return False
        stop_pid(pid, grace_s=45.0)
        self.pid_file.unlink(missing_ok=True)
        return True

    def _java(self, *jvm_options: str) -> list[str]:
        return [
            "java",
            *jvm_options,
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            self.classpath,
        ]

    async def _list_topics(self) -> set[str]:
        async with admin_client(self.settings.kafka, request_timeout_ms=3000) as admin:
            return set(await admin.list_topics())

    async def _create_topics(self, specs: tuple[TopicSpec, ...]) -> list[str]:
        return await create_topics(self.settings.kafka, specs)


async def create_topics(
    bootstrap: Broker, specs: tuple[TopicSpec, ...], replication_factor: int = 1
) -> list[str]:
    """Create those of `specs` the broker at `bootstrap` lacks; return the names created.

    The one place the platform's topics are made from their specs (`contracts.topics`):
    by `dronefleet stack up` here, and by `dronefleet topics` on any broker (the
    Kubernetes topics Job), so no deployment lists the topics again.
    """
    async with admin_client(bootstrap) as admin:
        # Another process may create them concurrently: that reaches the goal too.
        return await create_missing_topics(
            admin,
            [
                NewTopic(
                    spec.name,
                    num_partitions=spec.partitions,
                    replication_factor=replication_factor,
                    topic_configs=spec.config(),
                )
                for spec in specs
            ],
        )


def require_java() -> None:
    """Raise a MissingToolError naming the Debian package when Java is absent."""
    if shutil.which("java") is None:
        raise MissingToolError("Java 17+", "apt-get install -y openjdk-17-jre-headless")


def _kafka_cluster_id() -> str:
    """A random KRaft cluster id (22 characters of URL-safe base64, like Kafka's own).

    Never one that starts with "-": the storage tool's argument parser takes it for an
    option and refuses to format (1 start in 64 failed that way). Kafka's own
    `Uuid.randomUuid` draws again for the same reason.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
