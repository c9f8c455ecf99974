"""query_values reads a query string exactly as Starlette's QueryParams does."""

from __future__ import annotations

import pytest
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
