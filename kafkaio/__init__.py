"""Kafka plumbing the services share: records to produce, batched sends, group lag.

Services may import this package and `contracts`, never each other (import-linter); it
imports no service. It holds I/O helpers whose logic would otherwise be written twice:
the simulator and the telemetry gate both produce in per-partition batches, and the
streams CLI and the dashboard both read a consumer group's lag.
"""

from kafkaio.batch_sender import Acks, BatchSender
from kafkaio.records import WireRecord

__all__ = ["Acks", "BatchSender", "WireRecord"]
