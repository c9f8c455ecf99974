"""Property-based checks of a live service against its own OpenAPI schema (schemathesis).

Each operation gets ``max_examples`` generated requests, valid and invalid;
every answer must be no 5xx and must match the schema (status code, content
type, body). The operations run one after another in a single test, because
the schema only exists once the server under test is running.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings


def check_operations(schema_url: str, max_examples: int, excluded_checks: tuple = ()) -> list[str]:
    """Check every operation of the schema at ``schema_url``; return the operations checked.

    ``excluded_checks`` (schemathesis check functions) is for rules a JSON
    Schema cannot state, such as a constraint across two fields.
    """
    schema = schemathesis.openapi.from_url(schema_url)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=max_examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def conforms(case) -> None:
            case.call_and_validate(excluded_checks=list(excluded_checks))

        conforms()
        checked.append(operation.label)
    return checked
