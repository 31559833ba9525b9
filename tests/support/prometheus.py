"""Asking the local stack's real Prometheus what it scrapes and which alerts fire."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx

from devstack.prometheus import PrometheusNode

T = TypeVar("T")


def targets_by_service(node: PrometheusNode, namespace: str) -> dict[str, str]:
    """The health (`up`, `down`, `unknown`) of each of the platform's scraped services."""
    answer = httpx.get(f"{node.url}/api/v1/targets", params={"state": "active"}, timeout=10)
    answer.raise_for_status()
    return {
        target["labels"]["service"]: target["health"]
        for target in answer.json()["data"]["activeTargets"]
        if target["labels"].get("namespace") == namespace
    }


def alerts(node: PrometheusNode, namespace: str) -> list[dict[str, Any]]:
    """The platform's pending and firing alerts, as Prometheus evaluates them now."""
    answer = httpx.get(f"{node.url}/api/v1/alerts", timeout=10)
    answer.raise_for_status()
    return [
        alert
        for alert in answer.json()["data"]["alerts"]
        if alert["labels"].get("namespace") == namespace
    ]


def query(node: PrometheusNode, promql: str) -> list[dict[str, Any]]:
    """An instant query's samples."""
    answer = httpx.get(f"{node.url}/api/v1/query", params={"query": promql}, timeout=10)
    answer.raise_for_status()
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


def wait_until(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll `probe` every second until it returns something, or fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(1.0)
    raise AssertionError(f"{what} within {timeout_s:.0f} s (last: {last!r})")
