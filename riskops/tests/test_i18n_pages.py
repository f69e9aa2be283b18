"""Pages in both languages use the lending terms: 支用 in the back office, 借款 in the borrower
portal, 还款计划 / 第N期 / 应还款日 on schedules, an overdue loan shown as 逾期; the admin's
breadcrumb stays 首页; lockout and password messages are Chinese on Chinese pages."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from conftest import PASSWORD
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at

pytestmark = pytest.mark.django_db

# 2026-06-15, noon in Shanghai: a loan paid out on 2026-04-11 is 35 days past due (M2).
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def late_borrower():
    """A borrower with one loan 35 days late and one current one, for the home purpose."""
    borrower = BorrowerFactory(customer_no="C20000001", credit_limit=Decimal("20000.00"))
    # The current loan first: a line with an overdue instalment takes no new drawdown.
    DrawdownFactory(
        borrower=borrower,
        loan_no="L-CUR",
        amount=Decimal("3000.00"),
        disbursed_at=at(2026, 6, 1),
        purpose="home",
    )
    DrawdownFactory(
        borrower=borrower, loan_no="L-LATE", amount=Decimal("4000.00"), disbursed_at=at(2026, 4, 11)
    )
    return borrower


def _page(client, url: str, language: str) -> str:
    client.cookies["django_language"] = language
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _badges(html: str, loan_no: str) -> str:
    """The drawdown header of one loan: its number and its status badge."""
    match = re.search(
        rf'<h3 class="mono">{loan_no}</h3>\s*(<span class="badge[^"]*">[^<]*</span>)', html
    )
    assert match, f"no status badge for {loan_no}"
    return match.group(1)


def test_the_staff_borrower_page_speaks_back_office_chinese(client, analyst, late_borrower):
    client.force_login(analyst)
    html = _page(client, reverse("lending:borrower-detail", args=[late_borrower.pk]), "zh-hans")
    text = _text(html)

    assert "支用记录" in text and "借款（支用）" not in text
    assert "还款计划" in text and "应还款日" in text and "到期日" not in text
    assert "第1期" in text and "期次" in text
    assert "还款方式" in text and "收款账户" in text and "家装" in text
    # An unsettled loan with an overdue instalment is 逾期, never 正常; a current one 未结清.
    assert "逾期" in _badges(html, "L-LATE")
    assert "未结清" in _badges(html, "L-CUR")
    assert "正常" not in _badges(html, "L-LATE") + _badges(html, "L-CUR")


def test_the_staff_borrower_page_in_english(client, analyst, late_borrower):
    client.force_login(analyst)
    html = _page(client, reverse("lending:borrower-detail", args=[late_borrower.pk]), "en")
    text = _text(html)

    assert "Drawdowns" in text and "Repayment schedule" in text and "Due date" in text
    assert "Overdue" in _badges(html, "L-LATE")
    assert "Active" in _badges(html, "L-CUR")
    assert "#1" in text


def test_the_portal_says_borrowing_not_drawdown(client, django_user_model, late_borrower):
    user = django_user_model.objects.create_user(
        username="wang", password=PASSWORD, role="borrower", borrower_id=late_borrower.pk
    )
    client.force_login(user)
    text = _text(_page(client, reverse("lending:my-line"), "zh-hans"))

    assert "我的借款" in text and "支用" not in text
    assert "还款计划" in text and "应还款日" in text and "第1期" in text
    assert "可用额度" in text and "已用额度" in text and "收款账户" in text


def test_the_admin_breadcrumb_is_home_page_not_the_loan_purpose(client, admin_user, late_borrower):
    client.force_login(admin_user)
    url = reverse("admin:lending_drawdown_changelist")

    chinese = _page(client, url, "zh-hans")
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', chinese, re.DOTALL)
    assert crumbs and "首页" in crumbs.group(1) and "家装" not in crumbs.group(1)
    assert "家装" in chinese  # the purpose filter keeps its own word

    english = _page(client, url, "en")
    crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', english, re.DOTALL)
    assert crumbs and "Home" in crumbs.group(1)


@pytest.mark.parametrize(
    ("language", "label"), [("en", "Set role: Risk analyst"), ("zh-hans", "设置角色：风险分析师")]
)
def test_the_admin_role_actions_follow_the_page_language(client, admin_user, language, label):
    client.force_login(admin_user)
    html = _page(client, reverse("admin:accounts_user_changelist"), language)
    assert f'value="set_role_analyst">{label}</option>' in html


@pytest.mark.parametrize(
    ("language", "locked"),
    [
        ("en", "Too many failed login attempts."),
        ("zh-hans", "登录失败次数过多。该账号在此地址已被锁定 30 分钟。"),
    ],
)
def test_the_lockout_page_follows_the_page_language(client, analyst, language, locked):
    client.cookies["django_language"] = language
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": analyst.username, "password": "x"})

    response = client.post(
        reverse("accounts:login"), {"username": analyst.username, "password": PASSWORD}
    )

    assert response.status_code == 429
    assert locked in _text(response.content.decode())


@pytest.mark.parametrize(
    ("language", "too_short", "too_common"),
    [
        (
            "en",
            "This password is too short. It must contain at least 10 characters.",
            "This password is too common.",
        ),
        ("zh-hans", "密码长度太短。密码必须包含至少 10 个字符。", "这个密码太常见了。"),
    ],
)
def test_a_weak_password_is_refused_in_the_page_language(
    client, analyst, language, too_short, too_common
):
    client.force_login(analyst)
    client.cookies["django_language"] = language
    url = reverse("accounts:password-change")

    short = client.post(
        url, {"old_password": PASSWORD, "new_password1": "sh0rt", "new_password2": "sh0rt"}
    )
    common = client.post(
        url,
        {"old_password": PASSWORD, "new_password1": "password123", "new_password2": "password123"},
    )

    assert too_short in _text(short.content.decode())
    assert too_common in _text(common.content.decode())
