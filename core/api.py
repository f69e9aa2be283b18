"""The API's one error shape, and the JSON parser every endpoint reads its body with.

Every error the API answers has the same body (README.md, "## API"):

    {"message": str, "code": str, "extra": {...}, "errors": [{"field", "code", "message"}, ...]}

`message` is for people, `code` for programs (stable), `extra` machine-readable detail ({} when
there is none), `errors` one item per problem with a field ([] when there is none; the event
API's items add the event's `index` and `event_id`). Statuses:

- 400 malformed input: a body that is not plain JSON (code `parse_error`) or fields that are
  not valid (`invalid`, or the endpoint's own code);
- 401 no or bad credentials, 403 not allowed, 404, 405, 406, 415 a body that is not JSON;
- 409 a business refusal (a DomainError: its code and extra), or a lost race with a concurrent
  request (code `retry`, with a Retry-After header: nothing was recorded, send it again);
- 413 a body over settings.DATA_UPLOAD_MAX_MEMORY_SIZE (code `too_large`).

Anything else is a bug and answers 500; no input and no timing may cause one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypedDict

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError

# The code of a DomainError that means "a concurrent request won; nothing was recorded, send
# the same again": answered 409 with a Retry-After header of extra["retry_after"] seconds.
RETRY_CODE = "retry"
RETRY_AFTER_SECONDS = 1

# How deep a body may nest. An event batch nests three deep ({"events": [{...}]}); the limit
# leaves room for any honest body and stops well below the decoder's recursion limit.
MAX_JSON_DEPTH = 20

# A UTF-16 surrogate code point on its own ("\ud800" in JSON): it has no UTF-8 encoding, so
# neither the database nor an error message repeating it could hold it.
_SURROGATE = re.compile("[\ud800-\udfff]")


class ErrorItem(TypedDict):
    """One problem with one field of the input (field None: the input as a whole)."""

    field: str | None
    code: str
    message: str


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The body is larger than the %(max)s bytes the API accepts.")
    default_code = "too_large"

    def __init__(self) -> None:
        self.max_bytes = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(str(self.default_detail) % {"max": self.max_bytes})


class StrictJSONParser(BaseParser):
    """JSON bodies, read strictly; anything else is a ParseError (400) or RequestTooLarge (413).

    Rules:
    1. At most settings.DATA_UPLOAD_MAX_MEMORY_SIZE bytes. DRF reads a JSON body from the
       request's stream, past Django's own check of that setting, so it is enforced here.
    2. UTF-8 (RFC 8259), nothing else.
    3. No NaN, Infinity or -Infinity: they are not JSON, though Python's decoder takes them.
    4. A number with a fraction or an exponent is read as a Decimal exactly as written, never
       as a float: 458.33 keeps its fen, and 1e3 stays visibly an exponent for a strict field
       to refuse.
    5. At most MAX_JSON_DEPTH levels of arrays and objects. The standard decoder recurses, so
       `[` x 100,000 would otherwise end in a RecursionError.
    6. No lone surrogate in any string or key (see _SURROGATE).
    7. No key twice in one object: parsers disagree on which one counts (Python's takes the
       last), so {"amount": "1", "amount": "1000"} could mean one thing to the sender's
       checks and another to ours.
    """

    media_type = "application/json"

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        if limit is not None and request is not None:
            # An honest Content-Length over the limit is refused before reading anything.
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise RequestTooLarge()
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.ParseError(_("The body is not UTF-8.")) from None
        try:
            data = json.loads(
                text,
                parse_float=Decimal,
                parse_constant=_refuse_constant,
                object_pairs_hook=_object_without_repeats,
            )
        except RecursionError:
            raise exceptions.ParseError(_nested_too_deep()) from None
        except json.JSONDecodeError as exc:
            # Only the decoder's own words and the position: never a piece of the body.
            raise exceptions.ParseError(
                _("The body is not valid JSON: %(reason)s (line %(line)s, column %(column)s).")
                % {"reason": exc.msg, "line": exc.lineno, "column": exc.colno}
            ) from None
        except ValueError as exc:  # NaN/Infinity, a repeated key, a 4,301-digit integer
            raise exceptions.ParseError(
                _("The body is not plain JSON: %(reason)s.") % {"reason": exc}
            ) from None
        _require_plain(data)
        return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _object_without_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key appears twice in one object")
    return found


def _nested_too_deep() -> str:
    return str(
        _("The body nests arrays and objects more than %(max)s levels deep.")
        % {"max": MAX_JSON_DEPTH}
    )


def _require_plain(data: Any) -> None:
    """Parser rules 5 and 6, on the decoded body; iterative, so it cannot recurse too deep."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise exceptions.ParseError(_lone_surrogate())
        elif isinstance(value, dict):
            if depth > MAX_JSON_DEPTH:
                raise exceptions.ParseError(_nested_too_deep())
            for key, item in value.items():
                if _SURROGATE.search(key):
                    raise exceptions.ParseError(_lone_surrogate())
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            if depth > MAX_JSON_DEPTH:
                raise exceptions.ParseError(_nested_too_deep())
            stack.extend((item, depth + 1) for item in value)


def _lone_surrogate() -> str:
    return str(_("The body holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text."))


def error_items(detail: Any, *, field: str | None = None) -> list[ErrorItem]:
    """DRF's nested error detail as a flat list of (field, code, message).

    Nested fields are named by their path ("address.city"); errors of the input as a whole
    (DRF's non_field_errors) keep the field of what holds them, None at the top.
    """
    if isinstance(detail, Mapping):
        items: list[ErrorItem] = []
        for name, sub in detail.items():
            if name == api_settings.NON_FIELD_ERRORS_KEY:
                sub_field = field
            else:
                sub_field = f"{field}.{name}" if field else str(name)
            items.extend(error_items(sub, field=sub_field))
        return items
    if isinstance(detail, list):
        return [item for sub in detail for item in error_items(sub, field=field)]
    return [
        {
            "field": field,
            "code": str(getattr(detail, "code", None) or "invalid"),
            "message": str(detail),
        }
    ]


class ErrorResponse(Response):
    """An error, always rendered as JSON, whatever the view negotiated: the schema endpoint,
    for one, speaks YAML, and a client's Accept header does not change the error shape."""

    @property
    def rendered_content(self) -> Any:
        self.accepted_renderer = JSONRenderer()
        self.accepted_media_type = JSONRenderer.media_type
        return super().rendered_content


def error_response(
    *,
    status_code: int,
    message: str,
    code: str,
    extra: Mapping[str, Any] | None = None,
    errors: list[Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error in the API's one shape (see the module docstring)."""
    body = {
        "message": str(message),
        "code": code,
        "extra": dict(extra or {}),
        "errors": errors or [],
    }
    return ErrorResponse(body, status=status_code, headers=dict(headers or {}))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's exception handler, answering every error in the one shape.

    DomainError -> 409 with its code and extra (Retry-After when its code is RETRY_CODE);
    DRF's own errors (validation, parse, authentication, permission, 404, 405, 415, throttling)
    keep their status and headers with the body rewritten; Django's refusal of an oversized
    body -> 413, of another suspicious request -> 400. Anything else is left to Django (500).
    """
    if isinstance(exc, DomainError):
        headers = {}
        if exc.code == RETRY_CODE:
            headers["Retry-After"] = str(exc.extra.get("retry_after", RETRY_AFTER_SECONDS))
        return error_response(
            status_code=status.HTTP_409_CONFLICT,
            message=exc.message,
            code=exc.code,
            extra=exc.extra,
            errors=list(getattr(exc, "errors", [])),
            headers=headers,
        )
    if isinstance(exc, RequestDataTooBig):  # Django's check, when something read request.body
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):  # too many form fields, a bad multipart body
        exc = exceptions.ParseError(_("The request was refused as malformed."))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    extra: dict[str, Any] = {}
    if isinstance(exc, RequestTooLarge):
        extra["max_bytes"] = exc.max_bytes
    wait = getattr(exc, "wait", None)  # Throttled: DRF has set the Retry-After header too
    if wait is not None:
        extra["retry_after"] = int(wait)
    if isinstance(exc, exceptions.ValidationError):
        message, code, errors = str(_("Invalid input.")), "invalid", error_items(exc.detail)
    else:
        message = str(exc.detail)
        code = str(getattr(exc.detail, "code", None) or exc.default_code)
        errors = []
    return error_response(
        status_code=response.status_code,
        message=message,
        code=code,
        extra=extra,
        errors=errors,
        # The headers DRF's handler set: WWW-Authenticate on a 401, Retry-After when throttled.
        headers={k: v for k, v in response.items() if k in {"WWW-Authenticate", "Retry-After"}},
    )
