"""Request logs that keep no query strings.

Staff search the borrower list with GET ?q=<name, last 4 digits of an ID or mobile>; a request
log that keeps query strings keeps those search terms, personal data in a file nobody masks.
Django's own request logger (django.request) logs the path alone; runserver's request lines
(django.server) carry the whole request line, so settings.LOGGING routes them through
NoQueryString. gunicorn writes its access log itself: scripts/run passes it
GUNICORN_ACCESS_LOG_FORMAT, which names the path (%(U)s) and never the query (%(q)s), the full
request line (%(r)s) or the Referer (%(f)s, the previous page's URL, search included).

Imported by riskops/settings.py: this module must import nothing from Django's apps.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Any

# gunicorn --access-logformat: address, time, method, path without the query, protocol,
# status, bytes, duration in ms, and our own validated request id (the response header, never
# the client's raw X-Request-ID).
GUNICORN_ACCESS_LOG_FORMAT = (
    '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms request=%({x-request-id}o)s'
)

# A query string inside a logged request line or URL: from "?" to the next space or quote.
_QUERY_STRING = re.compile(r"\?[^\s\"']*")


def strip_query_strings(text: str) -> str:
    """`GET /borrowers/?q=张浩 HTTP/1.1` -> `GET /borrowers/ HTTP/1.1`."""
    return _QUERY_STRING.sub("", text)


class NoQueryString(logging.Filter):
    """Drop query strings from a record's message and its string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = strip_query_strings(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                strip_query_strings(a) if isinstance(a, str) else a for a in record.args
            )
        return True


def request_log_without_query_strings(config: Mapping[str, Any]) -> dict[str, Any]:
    """`config` (a LOGGING dict) with runserver's request lines filtered by NoQueryString.

    The django.server logger then writes through the root's handlers (its default handler
    and formatter are Django's, without the filter).
    """
    result: dict[str, Any] = copy.deepcopy(dict(config))
    result.setdefault("filters", {})["no_query_string"] = {"()": NoQueryString}
    root_handlers = list(result.get("root", {}).get("handlers", []))
    result.setdefault("loggers", {})["django.server"] = {
        "handlers": root_handlers,
        "level": "INFO",
        "propagate": False,
        "filters": ["no_query_string"],
    }
    return result
