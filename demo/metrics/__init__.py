"""The demo book read as a risk team reads a real one: delinquency, roll rates, cures, vintages,
early settlement, usage, onboarding, fraud signals, and a behavioural scorecard.

Only database rows are read (the ORM's values_list, then numpy); nothing from the seeder's
generation is imported, so these figures would come out the same for a book the lending core
had posted event by event. The one exception is labelled: the hidden latent risk
(demo.models.DemoBorrowerProfile), shown beside the scorecard as the best any model could do.

Conventions (RULES §5):
- A loan's DPD on day D, at the end of that day, is D minus the due date of its oldest
  instalment whose principal and interest were still unpaid (Instalment.paid_off_at later than
  D, or unset); an instalment due on D is not late yet. Buckets: M0 current, M1 1-30, M2 31-60,
  ..., M6 151-180, M7 over 180.
- Balances are principal outstanding; a written-off loan's is 0 on the book from its write-off.
- Month-end states are taken at the end of each calendar month's last day; a roll rate from Mi
  is the balance in Mi at one month end that is in a worse bucket (or written off) at the next,
  over the balance in Mi, pooled over the months; a cure is back to M0 or settled.
- "x+" shares and flags mean DPD >= x; ever-x+ means DPD >= x on some day up to the date.
"""

from demo.metrics import scorecard
from demo.metrics.figures import measure
from demo.metrics.report import Figure, Report
from demo.metrics.rows import Book, load_book
from demo.metrics.scorecard import auc, cross_validated_scores, logistic_fit

__all__ = [
    "Book",
    "Figure",
    "Report",
    "auc",
    "cross_validated_scores",
    "load_book",
    "logistic_fit",
    "measure",
    "scorecard",
]
