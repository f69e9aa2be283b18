"""The API's error shape: DomainError -> 409 {"message", "code", "extra"}; validation -> 400."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(
            {"message": exc.message, "code": exc.code, "extra": exc.extra},
            status=status.HTTP_409_CONFLICT,
        )
    return drf_exception_handler(exc, context)
