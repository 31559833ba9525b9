"""What the API and the notifier agree on (`contracts.webhooks`): URLs, secrets, message ids."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook

from contracts.webhooks import endpoint_secret, message_id, url_problem


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/dronefleet",
        "https://8.8.8.8/x",
        "https://[2606:4700:4700::1111]/x",
        "https://example.com:8443/path?q=1",
    ],
)
def test_public_https_urls_are_accepted(url: str) -> None:
    assert url_problem(url, allow_private=False) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/x", "only https"),
        ("ftp://hooks.example.com/x", "only https"),
        ("https://127.0.0.1/x", "not a public address"),
        ("https://10.1.2.3/x", "not a public address"),
        ("https://192.168.0.10/x", "not a public address"),
        ("https://172.16.5.4/x", "not a public address"),
        ("https://[::1]/x", "not a unicast"),
        ("https://[fd00::1]/x", "not a public address"),
        ("https://[::ffff:10.0.0.1]/x", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "not a unicast"),
        ("https://0.0.0.0/x", "not a unicast"),
        ("https://localhost/x", "localhost"),
        ("https://api.localhost/x", "localhost"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("https:///x", "no host"),
    ],
)
def test_unsafe_urls_are_refused_by_default(url: str, why: str) -> None:
    problem = url_problem(url, allow_private=False)
    assert problem is not None and why in problem


def test_the_setting_allows_a_local_receiver_but_never_link_local() -> None:
    assert url_problem("http://127.0.0.1:8080/hook", allow_private=True) is None
    assert url_problem("http://[::1]:8080/hook", allow_private=True) is None
    assert url_problem("http://localhost:8080/hook", allow_private=True) is None
    assert url_problem("http://10.0.0.5/hook", allow_private=True) is None
    assert url_problem("http://169.254.169.254/", allow_private=True) is not None
    assert url_problem("gopher://127.0.0.1/", allow_private=True) is not None


def test_secrets_are_stable_per_endpoint_and_version_and_usable_by_the_package() -> None:
    key = "k" * 40
    secret = endpoint_secret(key, "e1")
    assert secret == endpoint_secret(key, "e1")
    assert secret.startswith("whsec_")
    assert len({secret, endpoint_secret(key, "e2"), endpoint_secret(key, "e1", 2)}) == 3
    assert endpoint_secret("j" * 40, "e1") != secret
    Webhook(secret)  # the package parses it (32 bytes, base64)


def test_a_message_id_names_one_event_for_one_endpoint() -> None:
    assert message_id("ev1", "e1") == message_id("ev1", "e1")
    assert len({message_id("ev1", "e1"), message_id("ev1", "e2"), message_id("ev2", "e1")}) == 3
    assert message_id("ev1", "e1").startswith("msg_")
