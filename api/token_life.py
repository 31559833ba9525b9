"""A tracking token ends with its delivery: `token_after_final_s` after the final state.

A share link is handed around (a customer forwards it, it sits in a chat); once the
parcel is delivered, or the delivery cancelled or failed, nobody needs to watch it for
long, so the token stops working `token_after_final_s` after that (401
`token_expired`), whatever its own expiry says. The end is read from the read model,
which a rebuild from the log reproduces; an ended delivery stays ended, so its end is
remembered in a bounded map and the sockets of a busy delivery cost one query, not one
each. A delivery not ended (or not in the read model yet) is asked again next time.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from api import queries
from api.errors import NotAuthenticatedError, ProblemReason


class TokenEndedError(NotAuthenticatedError):
    """A valid token of a delivery that ended longer than `token_after_final_s` ago."""

    default_reason: ProblemReason = "token_expired"


class DeliveryEnds:
    """When ended deliveries ended, read from the read model and remembered (bounded)."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._ended: OrderedDict[str, datetime] = OrderedDict()

    async def ended_at(self, pool: AsyncConnectionPool, delivery_id: str) -> datetime | None:
        """When the delivery reached its final state, or None while it has not."""
        known = self._ended.get(delivery_id)
        if known is not None:
            return known
        row = await queries.delivery_end(pool, delivery_id)
        ended: datetime | None = row["ended_at"] if row is not None else None
        if ended is not None:
            self._ended[delivery_id] = ended
            while len(self._ended) > self.size:
                self._ended.popitem(last=False)
        return ended


def check(ended_at: datetime | None, now: datetime, after_final_s: float) -> None:
    """Raise `TokenEndedError` once `after_final_s` have passed since the delivery ended."""
    if ended_at is not None and now - ended_at > timedelta(seconds=after_final_s):
        raise TokenEndedError(
            f"the delivery ended at {ended_at.isoformat()}: its tracking token works "
            f"{after_final_s:g} s after the end, no longer"
        )
