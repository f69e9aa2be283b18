"""The base of every business-rule refusal raised by services."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A service refused an action; nothing was changed.

    `message` is shown to people (pages, the API's 409 body); `extra` carries machine-readable
    detail. Subclasses set `code` and a translatable `message_template`, which may use
    %(name)s placeholders filled from `extra`.
    """

    code = "domain_error"
    message_template: Any = "The action was refused."

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.extra = extra
        template = message or str(self.message_template)
        try:
            self.message = template % extra if extra else template
        except (KeyError, ValueError, TypeError):
            self.message = template
        super().__init__(self.message)
