"""The Simplified Chinese catalogue is complete and compiled."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.utils import translation

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _entries() -> list[str]:
    # Entries are separated by blank lines; the first is the header.
    return CATALOGUE.read_text(encoding="utf-8").split("\n\n")[1:]


def test_every_message_has_a_chinese_translation():
    untranslated = []
    for entry in _entries():
        if entry.lstrip().startswith("#~"):
            continue  # obsolete entries are kept by makemessages and never shown
        msgid = re.search(r'^msgid "(.*)"$', entry, re.MULTILINE)
        msgstrs = re.findall(r'^msgstr(?:\[\d\])? "(.*)"((?:\n".*")*)', entry, re.MULTILINE)
        if msgid and not any(first or rest.strip() for first, rest in msgstrs):
            untranslated.append(msgid.group(1))
    assert untranslated == []


def test_no_translation_is_marked_fuzzy():
    # gettext ignores fuzzy entries, so they would show in English.
    assert not [e for e in _entries() if "#, fuzzy" in e or "#, python-format, fuzzy" in e]


def test_the_compiled_catalogue_translates_the_interface():
    with translation.override("zh-hans"):
        assert translation.gettext("Borrowers") == "借款人"
        assert translation.pgettext("navigation", "Home") == "首页"
        assert translation.gettext("Equal instalments") == "等额本息"
