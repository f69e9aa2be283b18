"""The header's language switch: the user lands back on the page they were reading, filters and
page included, in the other language; an address off this site is never followed."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

LIST_WITH_FILTERS = "/borrowers/?q=&status=&bucket=M1&city=&after=4000"


def _switch_next(html: str) -> str:
    form = re.search(r'<form class="lang-switch.*?</form>', html, re.DOTALL)
    assert form, "the page has no language switch"
    match = re.search(r'name="next" value="([^"]*)"', form.group(0))
    assert match, "the language switch has no next"
    return match.group(1).replace("&amp;", "&")


def test_the_switch_returns_to_the_page_with_its_query_string(client, analyst):
    client.force_login(analyst)

    page = client.get(LIST_WITH_FILTERS)

    assert page.status_code == 200
    assert _switch_next(page.content.decode()) == LIST_WITH_FILTERS


def test_switching_to_chinese_lands_on_the_same_filtered_page_in_chinese(client, analyst):
    client.force_login(analyst)

    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": LIST_WITH_FILTERS}
    )

    assert response.status_code == 302
    assert response["Location"] == LIST_WITH_FILTERS
    page = client.get(response["Location"])
    assert '<html lang="zh-Hans">' in page.content.decode()
    assert '<option value="M1" selected>' in page.content.decode()  # the filter still applies


def test_switching_back_to_english_keeps_the_address_too(client, analyst):
    client.force_login(analyst)
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})

    response = client.post(reverse("set_language"), {"language": "en", "next": LIST_WITH_FILTERS})

    assert response["Location"] == LIST_WITH_FILTERS
    assert '<html lang="en">' in client.get(LIST_WITH_FILTERS).content.decode()


def test_the_login_page_switch_keeps_where_the_login_leads(client):
    login = reverse("accounts:login") + "?next=/borrowers/%3Fbucket%3DM1"

    page = client.get(login)

    assert _switch_next(page.content.decode()) == login


@pytest.mark.parametrize(
    "hostile", ["https://evil.example/phish", "//evil.example/", "javascript:alert(1)"]
)
def test_an_address_off_this_site_is_not_followed(client, analyst, hostile):
    client.force_login(analyst)

    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": hostile})

    assert response.status_code == 302
    assert "evil.example" not in response["Location"]
    assert not response["Location"].startswith("javascript:")
    assert client.cookies["django_language"].value == "zh-hans"  # the choice itself still counts
