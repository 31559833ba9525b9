"""A waiting customer's place in the queue: the count, and one read per refresh period."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from api.waiting import Place, WaitingLine, place_in


@given(st.lists(st.text(min_size=1, max_size=4), unique=True, min_size=1), st.data())
def test_the_place_counts_the_deliveries_before_it(queue: list[str], data: st.DataObject) -> None:
    order = {delivery: index for index, delivery in enumerate(queue)}
    mine = data.draw(st.sampled_from(queue))
    place = place_in(order, mine)
    assert place == Place(ahead=queue.index(mine), waiting=len(queue))
    assert place is not None and 0 <= place.ahead < place.waiting
    assert place_in(order, "not waiting") is None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_queue_is_read_once_per_period_for_every_customer() -> None:
    clock = Clock()
    line = WaitingLine(refresh_s=5.0, clock=clock)
    queue = ["a", "b", "c"]

    async def read() -> list[str]:
        return list(queue)

    async def scenario() -> None:
        places = await asyncio.gather(*(line.place(read, d) for d in ["a", "b", "c", "c"]))
        assert places == [Place(0, 3), Place(1, 3), Place(2, 3), Place(2, 3)]
        assert line.reads == 1, "concurrent customers share one read"
        queue.remove("a")
        clock.now += 4.9
        assert await line.place(read, "c") == Place(2, 3), "within the period: the old read"
        assert line.reads == 1
        clock.now += 0.1
        assert await line.place(read, "c") == Place(1, 2)
        assert line.reads == 2

    asyncio.run(scenario())


def test_a_delivery_requested_since_the_last_read_is_counted_a_second_later() -> None:
    clock = Clock()
    line = WaitingLine(refresh_s=5.0, clock=clock)
    queue = ["a"]

    async def read() -> list[str]:
        return list(queue)

    async def scenario() -> None:
        assert await line.place(read, "a") == Place(0, 1)
        queue.append("b")
        clock.now += 0.5
        assert await line.place(read, "b") is None, "not read again at once for a stranger"
        clock.now += 0.5
        assert await line.place(read, "b") == Place(1, 2)
        assert line.reads == 2

    asyncio.run(scenario())


def test_the_length_of_the_queue_is_read_once_per_refresh_period() -> None:
    now = [0.0]
    line = WaitingLine(refresh_s=5.0, clock=lambda: now[0])
    queue = ["a", "b"]

    async def read() -> list[str]:
        return list(queue)

    async def scenario() -> None:
        assert await line.length(read) == 2
        queue.append("c")
        now[0] = 4.0
        assert await line.length(read) == 2 and line.reads == 1
        now[0] = 5.0
        assert await line.length(read) == 3 and line.reads == 2

    asyncio.run(scenario())


def test_a_quote_s_read_does_not_leave_its_own_delivery_without_a_place() -> None:
    """The 202's quote reads the queue before the request is in the read model; the
    delivery's first socket must not then wait a second for its place (issue 19's quote
    made the first state message say nothing of the queue)."""
    clock = Clock()
    line = WaitingLine(refresh_s=5.0, clock=clock)
    queue = ["a"]

    async def read() -> list[str]:
        return list(queue)

    async def scenario() -> None:
        assert await line.length(read) == 1  # the quote, before "b" is recorded
        queue.append("b")
        clock.now += 0.1
        assert await line.place(read, "b") == Place(1, 2), "read again once for it"
        queue.append("c")
        clock.now += 0.1
        assert await line.place(read, "c") is None, "then the second's guard holds"
        assert line.reads == 2

    asyncio.run(scenario())
