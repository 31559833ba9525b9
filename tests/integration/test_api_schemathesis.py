"""schemathesis against the OpenAPI document of the API running on the real stack.

Every operation gets generated requests, valid ones and invalid ones (bodies, parameters,
headers), sent with a registered business's key and the operators' key so that the
handlers behind the authentication run too. No response may be a server error, and
each must match the document: status code, content type and schema (errors are
problem documents). Bounded to a few examples per operation to stay around a minute.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from contracts import Topics
from devstack.services import PlatformConfig, register_business
from devstack.settings import StackSettings
from tests.support.api_platform import running_api

EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api(
    running_stack: StackSettings, topics: Topics, fresh_database: Callable[[], str]
) -> Iterator[tuple[PlatformConfig, str]]:
    with running_api(running_stack, topics, fresh_database()) as config:
        yield config, register_business(config, "fuzzed shop")


def test_no_server_errors_and_answers_as_documented(api: tuple[PlatformConfig, str]) -> None:
    config, business_key = api
    schema = schemathesis.openapi.from_url(f"{config.api_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12, "every documented operation is fuzzed"
    credentials = {"X-API-Key": business_key, "X-Operator-Key": config.operator_key}
    unnegatable: list[str] = []
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            # Valid credentials over generated ones, so the handlers behind them run
            # (refusals are pinned in test_api_rest); a generated bearer token stays.
            headers = {**(case.headers or {}), **credentials}
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            fuzz()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters, no body, e.g. /healthz).
            assert mode is GenerationMode.NEGATIVE, operation.label
            unnegatable.append(operation.label)
    assert len(unnegatable) <= 5, unnegatable
