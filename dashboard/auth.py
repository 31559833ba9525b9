"""The dashboard's sign-in: operators only, with the operators' key.

The dashboard shows every delivery's addresses and tracks, so it is for operators, like
the API's fleet endpoints, and it asks for the same secret: the operators' key
(`DRONEFLEET_DASHBOARD_OPERATOR_KEY`, or the API's `DRONEFLEET_API_OPERATOR_KEY` where a
platform hands every service one environment, as `dronefleet demo` does). Streamlit has
no password login of its own (its `st.login` needs an OpenID provider), so the script
asks for the key before it draws anything, compares it in constant time and remembers
the answer in the browser session's state (server-side; nothing is stored in the
browser). Without a configured key the dashboard shows nothing at all: it fails closed.
Each wrong key costs its session a growing pause, so guessing is slow as well as hopeless.
"""

from __future__ import annotations

import hmac
import time

import streamlit as st

from dashboard.settings import DashboardSettings

SIGNED_IN = "operator_signed_in"
FAILURES = "operator_failures"
KEY_INPUT = "operator_key"
MAX_PAUSE_S = 5.0


def key_matches(presented: str, configured: str) -> bool:
    """Whether `presented` is the operators' key (constant time)."""
    return hmac.compare_digest(presented.encode(), configured.encode())


def pause_after(failures: int, pause_s: float) -> float:
    """Seconds to wait after the session's `failures`-th wrong key: growing, bounded."""
    return min(MAX_PAUSE_S, pause_s * failures)


def signed_in(settings: DashboardSettings) -> bool:
    """True once this session gave the operators' key; else draw the sign-in and say no."""
    if st.session_state.get(SIGNED_IN):
        return True
    st.title("dronefleet operations")
    if settings.operator_key is None:
        st.error(
            "The dashboard is for operators: set DRONEFLEET_DASHBOARD_OPERATOR_KEY "
            "(the operators' key) to use it."
        )
        return False
    presented = st.text_input("Operators' key", type="password", key=KEY_INPUT)
    if not presented:
        return False
    if key_matches(presented, settings.operator_key.get_secret_value()):
        st.session_state[SIGNED_IN] = True
        st.session_state[FAILURES] = 0
        st.rerun()
    failures = int(st.session_state.get(FAILURES, 0)) + 1
    st.session_state[FAILURES] = failures
    time.sleep(pause_after(failures, settings.sign_in_pause_s))
    st.error("That is not the operators' key.")
    return False
