"""query_values reads a query string exactly as Starlette's QueryParams does, except
that escapes which are not UTF-8 are refused instead of read as U+FFFD."""

from __future__ import annotations

import pytest
from fastapi.exceptions import RequestValidationError
from service_common.asgi import query_values
from starlette.requests import Request

QUERIES = [
    b"",
    b"a=1&b=2",
    b"a&b=",
    b"a=1&&b=2&",
    b"a=1=2",
    b"=x",
    b"a=1&a=2",
    b"a=1;b=2",
    b"\xc3\xa9=\xff",
    b"a=%20+b&c=%C3%A9",
    b"user_id=TEST%55SERID&user_id=x",
]


@pytest.mark.parametrize("query", QUERIES)
def test_same_values_as_starlette(query):
    request = Request({"type": "http", "query_string": query, "headers": []})
    assert query_values(request) == dict(request.query_params)


@pytest.mark.parametrize(
    ("query", "loc"),
    [
        (b"user_id=%FF", ("query", "user_id")),
        (b"a=1&user_id=x%C3", ("query", "user_id")),
        (b"user_id=%ED%A0%80", ("query", "user_id")),  # an encoded surrogate is not UTF-8 either
        (b"%FF=1", ("query", "\\udcff")),
    ],
)
def test_escapes_that_are_not_utf8_are_refused_naming_the_parameter(query, loc):
    request = Request({"type": "http", "query_string": query, "headers": []})
    with pytest.raises(RequestValidationError) as raised:
        query_values(request)
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [(loc, "string_unicode")]
