"""The parameters a manager tunes on a rule version: their types, defaults and checks.

A version's `params` is JSON: whole numbers as ints, amounts and percentages as decimal
strings ("500.00", "80"), hours as decimal strings, times of day as "HH:MM", flags as bools,
event kinds as lists of strings. `params_clean` turns a manager's input into that form, or
says what is wrong with each field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _

from monitoring.choices import EventKind

TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: its JSON name, type ("int", "decimal", "time", "bool", "kinds"), its
    default, a label for the editor and the smallest value it may take."""

    name: str
    type: str
    default: Any
    label: Promise | str
    minimum: Decimal | None = None
    maximum: Decimal | None = None


def _clean_one(param: Param, value: Any) -> tuple[Any, str | None]:
    if param.type == "bool":
        if isinstance(value, bool):
            return value, None
        if isinstance(value, str) and value.lower() in {"true", "false", "on", "off", "1", "0"}:
            return value.lower() in {"true", "on", "1"}, None
        return None, _("Give yes or no.")
    if param.type == "time":
        if isinstance(value, str) and TIME_OF_DAY.match(value.strip()):
            return value.strip(), None
        return None, _("Give a time of day as HH:MM, e.g. 07:00.")
    if param.type == "kinds":
        items = value if isinstance(value, list) else str(value).replace(",", " ").split()
        kinds = [str(item).strip() for item in items if str(item).strip()]
        if not kinds or any(kind not in EventKind.values for kind in kinds):
            return None, _("Give one or more event kinds: %(kinds)s.") % {
                "kinds": ", ".join(EventKind.values)
            }
        return sorted(set(kinds)), None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        number = None
    if number is None or not number.is_finite():
        return None, _("Give a number.")
    if param.type == "int" and number != number.to_integral_value():
        return None, _("Give a whole number.")
    if param.minimum is not None and number < param.minimum:
        return None, _("At least %(min)s.") % {"min": param.minimum}
    if param.maximum is not None and number > param.maximum:
        return None, _("At most %(max)s.") % {"max": param.maximum}
    if param.type == "int":
        return int(number), None
    return str(number), None


def params_clean(
    specs: tuple[Param, ...], given: dict[str, Any], *, partial: bool = True
) -> tuple[dict[str, Any], dict[str, str]]:
    """(cleaned params, errors by name). Missing names take the default when `partial`;
    unknown names are errors, so a misspelt threshold is never silently ignored."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    known = {param.name for param in specs}
    for name in sorted(set(given) - known):
        errors[name] = _("Unknown parameter.")
    for param in specs:
        if param.name not in given:
            if partial:
                cleaned[param.name] = param.default
            else:
                errors[param.name] = _("Required.")
            continue
        value, error = _clean_one(param, given[param.name])
        if error:
            errors[param.name] = error
        else:
            cleaned[param.name] = value
    return cleaned, errors


def params_defaults(specs: tuple[Param, ...]) -> dict[str, Any]:
    return {param.name: param.default for param in specs}
