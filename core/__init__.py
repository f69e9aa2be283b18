"""The shared kernel every app may import, and which imports no app: the base of business-rule
refusals (DomainError) and the API's error shape. It stands below accounts, lending and the
rest; the project package `riskops/` (settings, URLs, Celery) stands above them all."""
