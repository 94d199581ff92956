"""Value types every settings section shares: durations, percentages and the strict section base."""

from __future__ import annotations

import math
import re
import types
import typing
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

_DURATION_RE = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)


def parse_duration(value: object) -> object:
    """Accept ``"4h"``, ``"90m"``, ``"1h30m"``, ``"15s"``, ``"2d"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a duration like 15s, 30m, 4h or 2d")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError("must be a duration of zero or more, like 15s, 30m, 4h or 2d")
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match and any(match.groups()):
            d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
            return timedelta(days=d, hours=h, minutes=m, seconds=s)
    raise ValueError("must be a duration like 15s, 30m, 4h or 2d")


def format_duration(value: timedelta) -> str:
    """Inverse of ``parse_duration`` for display and templates."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return "".join(parts)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

Percent = Annotated[Decimal, Field(gt=0, le=100)]

_NUMBER_TYPES = (int, float, Decimal)


def _is_number(annotation: Any) -> bool:
    args = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else ()
    )
    return any(a in _NUMBER_TYPES for a in args) or annotation in _NUMBER_TYPES


class Section(BaseModel):
    """A settings section: unknown keys are errors and assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        """TOML ``true`` would otherwise be read as 1 (``leverage = true`` meaning 1x)."""
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and _is_number(field.annotation):
            raise ValueError("must be a number, not true/false")
        return value


def credentials_problem(key: str, url: str | None) -> str | None:
    """A URL that carries ``user:password@``, a query string or a fragment is refused, without echoing
    it: a password (or an ``?apikey=``) would be printed back by every error, log line and `smt config
    show` that names the URL, and a base URL needs neither."""
    if url is None:
        return None
    rest = url.split("://", 1)[-1]
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in authority:
        return (
            f"{key}: must not carry credentials (user:password@ before the host; the value is not shown): "
            "remove them; API keys go in `smt keys set`, never in a URL"
        )
    if "?" in rest or "#" in rest:
        return (
            f"{key}: must not carry a query string or a fragment (the value is not shown): give the base URL "
            "only; API keys go in `smt keys set`, never in a URL"
        )
    return None
