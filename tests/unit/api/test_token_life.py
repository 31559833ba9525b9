"""A tracking token ends `token_after_final_s` after its delivery's final state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api import token_life
from tests.support.factories import T0


def test_a_token_works_until_the_grace_after_the_end_has_passed() -> None:
    token_life.check(None, T0 + timedelta(days=30), 60)  # not ended: its own expiry rules
    token_life.check(T0, T0 + timedelta(seconds=60), 60)
    with pytest.raises(token_life.TokenEndedError) as ended:
        token_life.check(T0, T0 + timedelta(seconds=61), 60)
    assert ended.value.status == 401 and ended.value.reason == "token_expired"
