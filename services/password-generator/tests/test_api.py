"""password-generator as a real uvicorn process on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from password_generator.config import MAX_COUNT, MAX_LENGTH
from password_generator.generator import DIGITS, SPECIAL_CHARACTERS

from tests.harness.http import get_json, http, metric_samples

GOOD = {"min_length": 16, "special_chars": 3, "digits": 4, "count": 5}


@pytest.fixture(scope="module")
def server(module_service):
    return module_service("password-generator")


def _query(params: dict) -> str:
    return "&".join(f"{key}={value}" for key, value in params.items())


def _assert_composition(passwords: list[str], spec: dict) -> None:
    assert len(passwords) == spec["count"]
    for password in passwords:
        assert len(password) == spec["min_length"]
        assert sum(c in SPECIAL_CHARACTERS for c in password) == spec["special_chars"]
        assert sum(c in DIGITS for c in password) == spec["digits"]


def test_get_with_query_parameters(server):
    status, body = get_json(f"{server.url}/passwords?{_query(GOOD)}")
    assert status == 200
    _assert_composition(body["passwords"], GOOD)


def test_post_with_json_body(server):
    status, _, body = http(
        "POST", f"{server.url}/passwords", json.dumps(GOOD).encode(), {"Content-Type": "application/json"}
    )
    assert status == 200
    _assert_composition(json.loads(body)["passwords"], GOOD)


def test_largest_allowed_request(server):
    spec = {"min_length": MAX_LENGTH, "special_chars": 10, "digits": 10, "count": MAX_COUNT}
    status, body = get_json(f"{server.url}/passwords?{_query(spec)}")
    assert status == 200
    _assert_composition(body["passwords"], spec)


BAD_INPUTS = [
    ({k: v for k, v in GOOD.items() if k != "count"}, "count", "missing"),
    ({**GOOD, "count": 0}, "count", "greater_than_equal"),
    ({**GOOD, "special_chars": 10, "digits": 7}, "digits", "value_error"),
    ({**GOOD, "min_length": MAX_LENGTH + 1}, "min_length", "less_than_equal"),
    ({**GOOD, "count": MAX_COUNT + 1}, "count", "less_than_equal"),
]


@pytest.mark.parametrize(("params", "field", "error_type"), BAD_INPUTS)
def test_bad_query_gets_422_naming_the_field(server, params, field, error_type):
    status, body = get_json(f"{server.url}/passwords?{_query(params)}")
    assert status == 422
    assert [(e["loc"][-1], e["type"]) for e in body["detail"]] == [(field, error_type)]


# In a body, a JSON string is not an integer whatever it spells; a negative is a number out of bounds.
BAD_BODY_VALUES = [
    ({**GOOD, "min_length": "twelve"}, "min_length", "int_type"),
    ({**GOOD, "digits": -1}, "digits", "greater_than_equal"),
]


@pytest.mark.parametrize(("params", "field", "error_type"), BAD_INPUTS + BAD_BODY_VALUES)
def test_bad_body_gets_422_naming_the_field(server, params, field, error_type):
    status, _, raw = http(
        "POST", f"{server.url}/passwords", json.dumps(params).encode(), {"Content-Type": "application/json"}
    )
    assert status == 422
    assert [(e["loc"][-1], e["type"]) for e in json.loads(raw)["detail"]] == [(field, error_type)]


def _post_raw(server, body: bytes) -> tuple[int, str, dict]:
    status, headers, raw = http("POST", f"{server.url}/passwords", body, {"Content-Type": "application/json"})
    return status, headers["Content-Type"], json.loads(raw)


# Python's JSON reader takes these as floats JSON cannot write back (inf, nan).
NON_FINITE = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize("number", NON_FINITE)
@pytest.mark.parametrize("field", ["min_length", "count"])
def test_non_finite_number_gets_422_naming_the_field(server, field, number):
    template = {"min_length": 16, "special_chars": 0, "digits": 0, "count": 1, field: "NUMBER"}
    status, content_type, body = _post_raw(server, json.dumps(template).replace('"NUMBER"', number).encode())
    assert (status, content_type) == (422, "application/json")
    assert [e["loc"] for e in body["detail"]] == [["body", field]]


@pytest.mark.parametrize(
    ("raw", "loc"),
    [
        (rb'{"min_length": "\ud800", "special_chars": 0, "digits": 0, "count": 1}', ["body", "min_length"]),
        (rb'{"min_length": 16, "special_chars": 0, "digits": 0, "count": 1, "\ud800": 1}', ["body"]),
    ],
)
def test_lone_surrogate_gets_422_not_500(server, raw, loc):
    status, content_type, body = _post_raw(server, raw)
    assert (status, content_type) == (422, "application/json")
    assert [e["loc"] for e in body["detail"]] == [loc]


def test_validation_errors_do_not_echo_the_input(server):
    echoed = "x" * 10_000
    status, _, body = _post_raw(server, json.dumps({**GOOD, "min_length": echoed}).encode())
    assert status == 422
    assert [set(e) - {"ctx"} for e in body["detail"]] == [{"type", "loc", "msg"}]
    assert echoed not in json.dumps(body)


# Plain digits are answered by the route's fast path; the other spellings by FastAPI's
# validation. Both must read a request the same way.
EQUIVALENT_SPELLINGS = [
    "min_length=016&special_chars=2&digits=2&count=2",  # leading zeros: still decimal
    "min_length=000000000016&special_chars=2&digits=2&count=2",  # too long for the fast path
    "min_length=4&min_length=16&special_chars=2&digits=2&count=2",  # the last of repeated names wins
    "min_length=16&special_chars=2&digits=2&count=2",
]


@pytest.mark.parametrize("query", EQUIVALENT_SPELLINGS)
def test_spellings_of_one_request_get_the_same_answer(server, query):
    status, body = get_json(f"{server.url}/passwords?{query}")
    assert status == 200
    _assert_composition(body["passwords"], {"min_length": 16, "special_chars": 2, "digits": 2, "count": 2})


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"min_length": 16, "special_chars": 2, "digits": 2, "count": 2}, "application/json; charset=utf-8"),
        ({"min_length": 16, "special_chars": 2, "digits": 2, "count": 2}, "application/vnd.example+json"),
    ],
)
def test_spellings_of_one_body_get_the_same_answer(server, body, content_type):
    status, _, raw = http("POST", f"{server.url}/passwords", json.dumps(body).encode(), {"Content-Type": content_type})
    assert status == 200
    _assert_composition(json.loads(raw)["passwords"], {"min_length": 16, "special_chars": 2, "digits": 2, "count": 2})


# Not plain ASCII digits, though int() reads several of them as 16 (the fullwidth digits too).
NOT_PLAIN_DIGITS = ["twelve", "+16", "-16", "1_6", "%2016", "16%20", "0x10", "1e1", "16.0", "%EF%BC%91%EF%BC%96", ""]


@pytest.mark.parametrize("spelling", NOT_PLAIN_DIGITS)
def test_query_value_not_in_plain_digits_gets_422(server, spelling):
    status, body = get_json(f"{server.url}/passwords?{_query({**GOOD, 'min_length': spelling})}")
    assert status == 422
    assert [(e["loc"], e["type"]) for e in body["detail"]] == [(["query", "min_length"], "int_parsing")]


@pytest.mark.parametrize("value", [True, False, 16.0, "16", [16], None])
def test_body_value_not_a_json_integer_gets_422(server, value):
    status, _, body = _post_raw(server, json.dumps({**GOOD, "min_length": value}).encode())
    assert status == 422
    assert [e["loc"] for e in body["detail"]] == [["body", "min_length"]]


def test_body_not_sent_as_json_gets_422(server):
    status, _, raw = http("POST", f"{server.url}/passwords", json.dumps(GOOD).encode(), {"Content-Type": "text/plain"})
    assert status == 422
    assert json.loads(raw)["detail"][0]["loc"] == ["body"]


def test_unknown_query_parameter_gets_422_naming_it(server):
    status, body = get_json(f"{server.url}/passwords?{_query({**GOOD, 'colour': 'red'})}")
    assert status == 422
    assert [(e["loc"], e["type"]) for e in body["detail"]] == [(["query", "colour"], "extra_forbidden")]


def test_sum_over_length_message_says_why(server):
    _, body = get_json(f"{server.url}/passwords?{_query({**GOOD, 'special_chars': 10, 'digits': 7})}")
    assert "special_chars + digits (10 + 7) must not exceed min_length (16)" in body["detail"][0]["msg"]


def test_probes_and_openapi(server):
    assert get_json(f"{server.url}/healthz") == (200, {"status": "ok"})
    assert get_json(f"{server.url}/readyz") == (200, {"status": "ready"})
    status, schema = get_json(f"{server.url}/openapi.json")
    assert status == 200
    assert {"get", "post"} <= set(schema["paths"]["/passwords"])
    assert schema["info"]["version"] == "1.0.0"


def test_request_id_is_echoed_or_made(server):
    _, headers, _ = http("GET", f"{server.url}/healthz", headers={"X-Request-ID": "abc-123"})
    assert headers["X-Request-ID"] == "abc-123"
    _, headers, _ = http("GET", f"{server.url}/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert len(headers["X-Request-ID"]) == 32


def test_metrics_count_known_traffic_exactly(start_service):
    app = start_service("password-generator", POD_IP="10.1.2.3", NODE_IP="192.0.2.7")
    identity = {("app_version", "1.0.0"), ("pod_ip", "10.1.2.3"), ("node_ip", "192.0.2.7")}
    for _ in range(3):
        assert get_json(f"{app.url}/passwords?{_query(GOOD)}")[0] == 200
    assert get_json(f"{app.url}/passwords?{_query({**GOOD, 'count': 0})}")[0] == 422
    _, _, text = http("GET", f"{app.url}/metrics")
    text = text.decode()

    assert metric_samples(text, "passwords_generated_total") == {frozenset(identity): 3 * GOOD["count"]}
    responses = metric_samples(text, "http_responses_total")
    route = {("route", "/passwords"), ("method", "GET")}
    assert responses[frozenset(identity | route | {("status_class", "2xx")})] == 3
    assert responses[frozenset(identity | route | {("status_class", "4xx")})] == 1
    durations = metric_samples(text, "http_request_duration_seconds_count")
    assert durations[frozenset(identity | route)] == 4
