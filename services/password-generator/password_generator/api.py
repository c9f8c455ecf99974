"""The /passwords routes: the same request as query parameters (GET) or JSON (POST)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from service_common.asgi import FastPathRoute, fast_path, json_response, query_values

from password_generator.config import MAX_COUNT, MAX_LENGTH
from password_generator.generator import SPECIAL_CHARACTERS, generate_passwords

router = APIRouter(prefix="/passwords", tags=["passwords"], route_class=FastPathRoute)

# How a query value spells an integer. Leading zeros are allowed and still decimal (016 is
# 16): a query value is text, never octal. pydantic's lax mode, like int(), would also take
# "+16", " 16" and "1_6".
_PLAIN_DIGITS = re.compile(r"[0-9]+")


class PasswordRequest(BaseModel):
    """What to generate. Each password is exactly ``min_length`` characters long.

    Strict: in a JSON body each field is a JSON integer, not true, 16.0 or "16".
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    min_length: int = Field(ge=1, le=MAX_LENGTH, description="Length of each password.", examples=[16])
    special_chars: int = Field(
        ge=0,
        le=MAX_LENGTH,
        description=f"Exact number of special characters, from {SPECIAL_CHARACTERS!r}.",
        examples=[2],
    )
    digits: int = Field(ge=0, le=MAX_LENGTH, description="Exact number of digits.", examples=[2])
    count: int = Field(ge=1, le=MAX_COUNT, description="Number of passwords to generate.", examples=[3])

    @field_validator("digits")
    @classmethod
    def fits_in_length(cls, digits: int, info: ValidationInfo) -> int:
        length, specials = info.data.get("min_length"), info.data.get("special_chars")
        if length is not None and specials is not None and specials + digits > length:
            raise ValueError(f"special_chars + digits ({specials} + {digits}) must not exceed min_length ({length})")
        return digits


class PasswordQuery(PasswordRequest):
    """The same request as query parameters, whose values are text: plain decimal digits only."""

    model_config = ConfigDict(strict=False)

    @field_validator("*", mode="before")
    @classmethod
    def plain_digits(cls, value: object) -> object:
        if isinstance(value, str) and not _PLAIN_DIGITS.fullmatch(value):
            raise PydanticCustomError("int_parsing", "Input should be an integer written in plain decimal digits")
        return value


class PasswordResponse(BaseModel):
    passwords: list[str] = Field(description="The generated passwords, in no particular order.")


def _bounds(field: str) -> tuple[int, int]:
    """The (ge, le) constraints of a PasswordRequest field, so the fast path cannot drift from the model."""
    metadata = PasswordRequest.model_fields[field].metadata
    return (
        next(item.ge for item in metadata if hasattr(item, "ge")),
        next(item.le for item in metadata if hasattr(item, "le")),
    )


_FIELD_BOUNDS = {field: _bounds(field) for field in PasswordRequest.model_fields}
# Longer than any bound written in digits: int() of it would be wasted work.
_MAX_DIGITS = len(str(max(high for _, high in _FIELD_BOUNDS.values())))


def _generate(request: Request, count: int, length: int, special_chars: int, digits: int) -> list[str]:
    request.app.state.passwords_generated.add({}, count)
    return generate_passwords(count, length, special_chars, digits)


def _json_int(raw: object) -> int | None:
    """A JSON integer (not a bool: type(True) is bool); None for anything else."""
    return raw if type(raw) is int else None


def _query_int(raw: object) -> int | None:
    """Plain ASCII decimal digits, short enough to be a bound; None for anything else."""
    if type(raw) is str and raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS:
        return int(raw)
    return None


def _plain_spec(values: object, read_int: Callable[[object], int | None]) -> dict[str, int] | None:
    """The request when it has exactly the fields, each an int ``read_int`` accepts within bounds, and is valid."""
    if type(values) is not dict or values.keys() != _FIELD_BOUNDS.keys():
        return None
    spec = {}
    for field, (low, high) in _FIELD_BOUNDS.items():
        value = read_int(values[field])
        if value is None or not low <= value <= high:
            return None
        spec[field] = value
    if spec["special_chars"] + spec["digits"] > spec["min_length"]:
        return None
    return spec


def _plain_answer(request: Request, values: object, read_int: Callable[[object], int | None]) -> Response | None:
    spec = _plain_spec(values, read_int)
    if spec is None:
        return None
    passwords = _generate(request, spec["count"], spec["min_length"], spec["special_chars"], spec["digits"])
    return json_response(orjson.dumps({"passwords": passwords}))


async def _generate_plain_query(request: Request) -> Response | None:
    """Valid query parameters, answered without FastAPI's parameter solving and response model."""
    return _plain_answer(request, query_values(request), _query_int)


async def _generate_plain_body(request: Request) -> Response | None:
    """A valid JSON body sent as application/json, answered the same way; FastAPI judges anything else."""
    if request.headers.get("content-type", "").partition(";")[0].strip().lower() != "application/json":
        return None
    try:
        values = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return None
    return _plain_answer(request, values, _json_int)


def _answer(request: Request, spec: PasswordRequest) -> PasswordResponse:
    return PasswordResponse(passwords=_generate(request, spec.count, spec.min_length, spec.special_chars, spec.digits))


@router.get("", summary="Generate passwords from query parameters")
@fast_path(_generate_plain_query)
async def generate_from_query(request: Request, spec: Annotated[PasswordQuery, Query()]) -> PasswordResponse:
    return _answer(request, spec)


@router.post("", summary="Generate passwords from a JSON body")
@fast_path(_generate_plain_body)
async def generate_from_body(request: Request, spec: PasswordRequest) -> PasswordResponse:
    return _answer(request, spec)
