"""Masking of personal data for display (RULES §6.2, JR/T 0171-2020 C2 data).

Staff pages show these by default; the full value needs a role, a reason and leaves a
PiiAccess record (lending.services.pii_reveal).
"""

from __future__ import annotations


def _mask(value: str, keep_start: int, keep_end: int) -> str:
    value = (value or "").strip()
    if len(value) <= keep_start + keep_end:
        # Too short to keep both ends and still hide something: hide all but the last char.
        return "*" * max(len(value) - 1, 0) + value[-1:]
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + "*" * hidden + value[len(value) - keep_end :]


def mask_national_id(value: str) -> str:
    """First 6 + last 4: 110101********1234."""
    return _mask(value, 6, 4)


def mask_mobile(value: str) -> str:
    """First 3 + last 4: 138****1234."""
    return _mask(value, 3, 4)


def mask_card(value: str) -> str:
    """First 6 + last 4 of a bank card: 622202******1234."""
    return _mask(value, 6, 4)


def mask_name(value: str) -> str:
    """Surname kept, the rest starred: 张* for 张三, 欧阳** for a compound surname is not
    guessed: the first character is kept, every other becomes one star each."""
    value = (value or "").strip()
    if not value:
        return ""
    return value[0] + "*" * max(len(value) - 1, 1)
