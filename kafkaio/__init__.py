"""Kafka plumbing the services share: each Kafka idiom written once.

Services may import this package and `contracts`, never each other (import-linter); it
imports no service. It holds the I/O helpers whose logic would otherwise be written
again in every service: records and batched sends (`records`, `batch_sender`), an
admin client that is always closed (`admin`), reading partitions to the end offsets
seen at the start (`log_range`, `compacted`), a group's committed and end offsets
(`offsets`) and the Kafka settings every service's settings inherit (`settings`).
"""

from kafkaio.batch_sender import Acks, BatchSender
from kafkaio.records import WireRecord

__all__ = ["Acks", "BatchSender", "WireRecord"]
