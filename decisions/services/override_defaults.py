"""The override reason list and authority matrix a new installation starts with (migration
0006 writes the same rows; the head of risk edits them in the pages afterwards).
`ensure_override_defaults()` writes them where missing: for the demo, and for tests that run
after a table flush."""

from __future__ import annotations

from decimal import Decimal

REASONS = [
    ("new_income", "Documented new income", "新增收入证明", 10),
    ("vip_retention", "Valued customer retention", "优质客户维护", 20),
    ("fraud_suspicion", "Fraud suspicion", "涉嫌欺诈", 30),
    ("hardship", "Financial hardship", "还款困难", 40),
    ("data_correction", "Data correction", "数据更正", 50),
    ("customer_request", "At the borrower's request", "借款人申请", 60),
    ("collections_strategy", "Collections strategy", "催收策略", 70),
    ("other_documented", "Other (documented in the justification)", "其他（见说明）", 90),
]

# role, direction, largest increase, largest share of the current limit, largest resulting
# limit, risk bands (blank: all), password again above.
MATRIX: list[tuple[str, str, str | None, str | None, str | None, str, str | None]] = [
    ("senior_analyst", "increase", "5000", "1.00", None, "A,B,C", None),
    ("manager", "increase", "50000", "3.00", "100000", "A,B,C,D", "20000"),
    ("head_of_risk", "increase", None, None, None, "", "50000"),
    ("senior_analyst", "decrease", None, None, None, "", None),
    ("manager", "decrease", None, None, None, "", None),
    ("head_of_risk", "decrease", None, None, None, "", None),
    ("senior_analyst", "freeze", None, None, None, "", None),
    ("manager", "freeze", None, None, None, "", None),
    ("head_of_risk", "freeze", None, None, None, "", None),
    ("manager", "unfreeze", None, None, None, "", None),
    ("head_of_risk", "unfreeze", None, None, None, "", None),
]


def _d(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def ensure_override_defaults() -> None:
    """Write the default reasons (each missing code) and matrix (only if it has no row)."""
    from decisions.models import AuthorityRule, OverrideReason

    for code, label, label_zh, position in REASONS:
        OverrideReason.objects.get_or_create(
            code=code, defaults={"label": label, "label_zh": label_zh, "position": position}
        )
    if not AuthorityRule.objects.exists():
        AuthorityRule.objects.bulk_create(
            AuthorityRule(
                role=role,
                direction=direction,
                max_increase=_d(max_inc),
                max_increase_share=_d(share),
                max_resulting_limit=_d(resulting),
                bands=bands,
                step_up_above=_d(step_up),
            )
            for role, direction, max_inc, share, resulting, bands, step_up in MATRIX
        )
