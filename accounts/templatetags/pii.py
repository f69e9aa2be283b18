"""Template filters that mask personal data: {{ borrower.mobile|mask_mobile }}."""

from __future__ import annotations

from django import template

from accounts import masking

register = template.Library()

register.filter("mask_national_id", masking.mask_national_id)
register.filter("mask_mobile", masking.mask_mobile)
register.filter("mask_card", masking.mask_card)
register.filter("mask_name", masking.mask_name)
