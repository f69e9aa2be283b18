"""Keyed digests that let staff find a borrower by a full identity number without a plaintext
search column.

A full national ID number is looked up through `Borrower.national_id_hash`, an HMAC-SHA256 of
the normalised number under a server-side key: an index on it finds the row, and a copy of the
column (a backup, a replica, a log of slow queries) reveals no number and cannot be reversed by
hashing every possible ID (about 10^10 of them are valid) without the key. The key is
`RISKOPS_PII_SEARCH_KEY` if set, else SECRET_KEY; changing it needs the digests recomputed
(the backfill in lending migration 0004 does exactly that).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.crypto import salted_hmac

# Fixed forever: a digest under another salt would match nothing already stored.
_SALT = "riskops.lending.national_id"


def normalise_national_id(value: str) -> str:
    """The form a number is hashed in: no spaces, the check character X upper-case."""
    return "".join(value.split()).upper()


def national_id_hash(value: str) -> str:
    """The keyed digest (64 hex characters) of a national ID number; "" for an empty one."""
    value = normalise_national_id(value)
    if not value:
        return ""
    key = getattr(settings, "RISKOPS_PII_SEARCH_KEY", "") or settings.SECRET_KEY
    return salted_hmac(_SALT, value, secret=key, algorithm="sha256").hexdigest()
