"""The API's garbage-collection pauses: `runtime.gc_pauses`, which every service shares."""

from runtime.gc_pauses import BUCKETS, GcPauses

__all__ = ["BUCKETS", "GcPauses"]
