"""Turn pydantic's validation errors into problems: one line each, the key, the value, what is allowed."""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from smt_engine.config.settings import Settings


def suggest(name: str, choices: Mapping[str, Any]) -> str:
    """A "did you mean" hint for a misspelt section or key, or nothing."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _field_info(loc: tuple[str | int, ...]) -> FieldInfo | None:
    model: type[BaseModel] = Settings
    info: FieldInfo | None = None
    for part in loc:
        if not isinstance(part, str) or part not in model.model_fields:
            return info
        info = model.model_fields[part]
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return info


def _bounds(info: FieldInfo | None) -> tuple[str | None, str | None]:
    """The field's lower and upper bound in words, saying whether each is allowed itself."""
    lo = hi = None
    for meta in info.metadata if info else []:
        if isinstance(meta, annotated_types.Ge):
            lo = f"at least {meta.ge}"
        elif isinstance(meta, annotated_types.Gt):
            lo = f"more than {meta.gt}"
        if isinstance(meta, annotated_types.Le):
            hi = f"at most {meta.le}"
        elif isinstance(meta, annotated_types.Lt):
            hi = f"less than {meta.lt}"
    return lo, hi


def _show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return json.dumps(value, default=str)
    return str(value).lower() if isinstance(value, bool) else str(value)


_TYPE_MESSAGES = {
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": 'must be a list, e.g. ["ETH", "BTC"]',
    "date_from_datetime_parsing": "must be a date like 2026-01-12",
    "date_parsing": "must be a date like 2026-01-12",
    "date_type": "must be a date like 2026-01-12",
    "path_type": "must be a file path",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "decimal_max_places": "has too many decimal places",
}


def describe_problem(err: Mapping[str, Any], origin: Mapping[tuple[str, str], str]) -> str:
    """One line for one pydantic error; ``origin`` names the environment variable a value came from."""
    loc = tuple(err["loc"])
    key = ".".join(str(p) for p in loc) or "(top level)"
    if len(loc) >= 2 and (str(loc[0]), str(loc[1])) in origin:
        key = f"{key} (from {origin[(str(loc[0]), str(loc[1]))]})"
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        parent: Mapping[str, Any] = Settings.model_fields
        if len(loc) > 1:
            info = _field_info(loc[:-1])
            if (
                info is not None
                and isinstance(info.annotation, type)
                and issubclass(info.annotation, BaseModel)
            ):
                parent = info.annotation.model_fields
        return f"{key}: unknown key{suggest(str(loc[-1]), parent)}"
    if kind == "value_error" or kind == "assertion_error":
        message = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if len(loc) >= 2:
            return f"{key} = {_show(value)}: {message}"
        return message if not loc or message.startswith(str(loc[0])) else f"{key}: {message}"
    shown = f"{key} = {_show(value)}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        lo, hi = _bounds(_field_info(loc))
        if lo is not None and hi is not None:
            return f"{shown}: must be {lo} and {hi}"
        ctx = err.get("ctx", {})
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[
            kind
        ]
        return f"{shown}: must be {op} {next(iter(ctx.values()), '?')}"
    if kind in {"literal_error", "enum"}:
        expected = err.get("ctx", {}).get("expected", "")
        return f"{shown}: must be one of {expected}"
    if kind in _TYPE_MESSAGES:
        return f"{shown}: {_TYPE_MESSAGES[kind]}"
    return f"{shown}: {err['msg']}"
