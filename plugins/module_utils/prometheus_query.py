"""A small Prometheus HTTP API client for modules: instant queries that must yield one number.

- ``get_json(base_url, path, params, token, validate_certs, timeout)``: any GET on the API, decoded,
  or ``PrometheusError`` saying what failed (unreachable, HTTP status with Prometheus' own error text,
  not JSON, ``status`` not ``success``);
- ``instant_query(...)``: ``/api/v1/query`` at a given time, the ``data`` part;
- ``query_number(...)``: an instant query that must return exactly one finite sample;
- ``redact_url(url)``: the URL without the user and password it may carry (basic auth), for messages;
- ``mask_url_password(module, url)``: have Ansible mask that password as it masks ``no_log`` options.

Every message names Prometheus by its redacted URL, so credentials in ``base_url`` never reach an error,
a verdict or a report.
"""

from __future__ import annotations

import json
import math
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit, urlunsplit

from ansible.module_utils.urls import open_url


class PrometheusError(RuntimeError):
    """Prometheus could not be asked, or its answer cannot be used as a measurement."""


def _api_error(body: bytes) -> str:
    try:
        return json.loads(body).get("error", "")
    except ValueError:
        return body.decode("utf-8", "replace")[:300]


def redact_url(url: str) -> str:
    """``url`` without its userinfo: ``http://admin:secret@host:9090/x`` -> ``http://host:9090/x``."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def mask_url_password(module, url: str | None) -> None:
    """Mask the basic-auth password in ``url`` wherever Ansible masks ``no_log`` options (the invocation it
    echoes, the result)."""
    password = urlsplit(url or "").password
    if password:
        module.no_log_values.add(password)


def get_json(
    base_url: str, path: str, params: dict, token: str | None = None, validate_certs: bool = True, timeout: int = 10
) -> dict:
    # open_url sends userinfo in base_url as basic auth; messages only ever show `where`.
    url = f"{base_url.rstrip('/')}{path}?{urlencode(params)}"
    where = redact_url(base_url)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with open_url(url, headers=headers, validate_certs=validate_certs, timeout=timeout) as response:
            body = response.read()
    except HTTPError as exc:
        raise PrometheusError(f"Prometheus at {where} answered HTTP {exc.code}: {_api_error(exc.read())}") from exc
    except (URLError, OSError) as exc:
        raise PrometheusError(f"Prometheus at {where} is unreachable: {getattr(exc, 'reason', exc)}") from exc
    try:
        answer = json.loads(body)
    except ValueError as exc:
        raise PrometheusError(
            f"{redact_url(url)} did not answer JSON (is it the Prometheus API?): {body[:200]!r}"
        ) from exc
    if answer.get("status") != "success":
        raise PrometheusError(f"Prometheus at {where} refused the request: {answer.get('error', answer)}")
    return answer["data"]


def instant_query(base_url: str, expr: str, at: float, **http) -> dict:
    """Evaluate ``expr`` at Unix time ``at``."""
    return get_json(base_url, "/api/v1/query", {"query": expr, "time": f"{at:.6f}"}, **http)


def query_number(base_url: str, expr: str, at: float, allow_empty: bool = False, **http) -> float | None:
    """The single finite value of ``expr`` at ``at``; None only when empty and ``allow_empty``."""
    data = instant_query(base_url, expr, at, **http)
    if data["resultType"] == "scalar":
        samples = [data["result"][1]]
    elif data["resultType"] == "vector":
        samples = [series["value"][1] for series in data["result"]]
    else:
        raise PrometheusError(f"'{expr}' returned a {data['resultType']}, expected one number")
    if not samples:
        if allow_empty:
            return None
        raise PrometheusError(f"'{expr}' returned no data at {at:.3f} (no series matched in the window)")
    if len(samples) > 1:
        raise PrometheusError(f"'{expr}' returned {len(samples)} series, expected one: aggregate it (sum, max...)")
    value = float(samples[0])
    if not math.isfinite(value):
        raise PrometheusError(f"'{expr}' returned {samples[0]} at {at:.3f}, not a finite number")
    return value
