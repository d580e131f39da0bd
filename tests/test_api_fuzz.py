"""Schemathesis over the whole OpenAPI schema, in process, at a small budget: no 5xx, answers as documented.

bench/fuzz_api.sh runs the same against a real server with a larger budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from test_api import KEYS, api_settings, build_seeded_data, make_client

from search_api.app import create_app

MAX_EXAMPLES = 5  # per operation and mode
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app over a copy of the seeded data, rate limits out of the way (they are tested in test_api_guard)."""
    seeded = build_seeded_data(tmp_path_factory)
    unlimited = "100000/minute"
    yield from make_client(seeded, tmp_path_factory.mktemp("fuzz") / "data", rate_limit_search=unlimited,
                           rate_limit_search_key=unlimited, rate_limit_analysis=unlimited,
                           rate_limit_analysis_key=unlimited, rate_limit_key_failures=unlimited)


def operations() -> list[str]:
    """Every operation of the schema, by label (`GET /api/v1/search`), for the test ids."""
    document = create_app(api_settings(Path("unused"))).openapi()  # built without starting the app or its store
    return [result.ok().label for result in schemathesis.openapi.from_dict(document).get_all_operations()]


@pytest.fixture(scope="module")
def api_schema(fuzzed_app: TestClient) -> Any:
    """The app's own OpenAPI schema, called in process."""
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app.app)


@pytest.mark.parametrize("label", operations())
def test_no_server_errors_and_documented_answers(api_schema: Any, label: str) -> None:
    """Valid requests (with a key: writes run too) are answered as documented; invalid ones, with or without a key,
    are refused with a documented content type; nothing is ever a 5xx."""
    operation = next(r.ok() for r in api_schema.get_all_operations() if r.ok().label == label)
    cases = 0

    def fuzz(mode: GenerationMode, with_key: list[Any], without_key: list[Any]) -> None:
        @given(case=operation.as_strategy(mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate(headers={"X-API-Key": KEYS[0]}, checks=with_key)
            case.call_and_validate(checks=without_key)

        run()

    answered = [checks.not_a_server_error, checks.content_type_conformance]
    fuzz(GenerationMode.POSITIVE, CHECKS, answered)
    if operation.method.upper() != "GET" or operation.path_parameters or operation.query:
        fuzz(GenerationMode.NEGATIVE, answered, answered)
    assert cases >= 1


def test_the_fuzzed_app_still_answers(fuzzed_app: TestClient) -> None:
    assert fuzzed_app.get("/api/v1/health").status_code == 200
    assert fuzzed_app.get("/api/v1/search", params={"q": "учитель"}).status_code == 200
