"""Reads of the lending book for pages and the API; access checks live here.

Every page gets borrowers through `borrower_visible_to`, so a borrower login can never see
anyone else. Delinquency is derived from `CreditLine.oldest_unpaid_due` (lending.money): the
database filters and sums by bucket on that indexed date column instead of computing DPD per
row in Python.
"""

from lending.selectors.book import *  # noqa: F403
from lending.selectors.pages import *  # noqa: F403
