"""The /passwords routes: the same request as query parameters (GET) or JSON (POST)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from password_generator.config import MAX_COUNT, MAX_LENGTH
from password_generator.generator import SPECIAL_CHARACTERS, generate_passwords

router = APIRouter(prefix="/passwords", tags=["passwords"])


class PasswordRequest(BaseModel):
    """What to generate. Each password is exactly ``min_length`` characters long."""

    model_config = ConfigDict(extra="forbid")

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


class PasswordResponse(BaseModel):
    passwords: list[str] = Field(description="The generated passwords, in no particular order.")


def _answer(request: Request, spec: PasswordRequest) -> PasswordResponse:
    passwords = generate_passwords(spec.count, spec.min_length, spec.special_chars, spec.digits)
    request.app.state.passwords_generated.add({}, spec.count)
    return PasswordResponse(passwords=passwords)


@router.get("", summary="Generate passwords from query parameters")
async def generate_from_query(request: Request, spec: Annotated[PasswordRequest, Query()]) -> PasswordResponse:
    return _answer(request, spec)


@router.post("", summary="Generate passwords from a JSON body")
async def generate_from_body(request: Request, spec: PasswordRequest) -> PasswordResponse:
    return _answer(request, spec)
