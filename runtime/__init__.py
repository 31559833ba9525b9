"""Process plumbing the services share that is not about Kafka: the collector's freezing.

Like `kafkaio`, services may import it and it imports no service (import-linter). It
exists because the API's fan-out and the stream worker's stages both keep a large heap
of long-lived objects and both paid for it in full collections (`runtime.gc_freeze`).
"""

from runtime.gc_freeze import GcFreezeSettings, freeze_periodically

__all__ = ["GcFreezeSettings", "freeze_periodically"]
