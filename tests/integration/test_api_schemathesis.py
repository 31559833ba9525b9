"""schemathesis against the OpenAPI document of the API running on the real stack.

Every operation gets generated requests, valid ones and invalid ones (bodies, parameters,
headers), sent with a registered business's key and the operators' key so that the
handlers behind the authentication run too. No response may be a server error, and
each must match the document: status code, content type and schema (errors are
problem documents). Bounded to a few examples per operation to stay around a minute.
Then again with the credentials missing and with made-up ones: no operation that has
a security requirement may answer 2xx (the security suite's tally).

The API runs with rates no fuzzing reaches: a 429 would stop the handlers from running.
"""

from __future__ import annotations

import itertools
import secrets
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
from tests.support.attacks import made_up_key, tally

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
    generous = "1000000/minute"
    env = {
        "DRONEFLEET_API_RATE_PER_ADDRESS": generous,
        "DRONEFLEET_API_RATE_PER_BUSINESS": generous,
    }
    with running_api(running_stack, topics, fresh_database(), extra_env=env) as config:
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


CREDENTIAL_HEADERS = ("X-API-Key", "X-Operator-Key", "Authorization")


@pytest.mark.parametrize("credentials", ["missing", "made-up"])
def test_no_operation_with_a_security_requirement_answers_without_valid_credentials(
    api: tuple[PlatformConfig, str], credentials: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = api
    schema = schemathesis.openapi.from_url(f"{config.api_url}/openapi.json")
    document = schema.raw_schema
    attempts = tally(f"schemathesis, {credentials} credentials, secured operations")
    for result in schema.get_all_operations():
        operation = result.ok()
        raw = document["paths"][operation.path][operation.method.lower()]
        if not raw.get("security"):
            continue

        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        @settings(
            max_examples=EXAMPLES // 3,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            headers = {
                name: value
                for name, value in (case.headers or {}).items()
                if name not in CREDENTIAL_HEADERS
            }
            if credentials == "made-up":
                headers |= {
                    "X-API-Key": made_up_key(),
                    "X-Operator-Key": secrets.token_hex(32),
                    "Authorization": f"Bearer {secrets.token_urlsafe(40)}",
                }
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS)
            attempts.count(admitted=response.status_code < 400)

        fuzz()
    with capsys.disabled():  # README's security section quotes the count
        print(f"\n{attempts.name}: {attempts.attempts} attempts, {attempts.let_in} let in")
    assert attempts.attempts >= 20 and attempts.let_in == 0
