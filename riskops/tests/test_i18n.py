"""The Simplified Chinese catalogue is complete, compiled, and nothing English slips past it.

- Every msgid the code and templates use (extracted the way `make messages` does, into a
  temporary directory) is in locale/zh_Hans, translated and not fuzzy; the compiled .mo says
  the same as the .po.
- The strings of Django and django-axes that show on our pages are Chinese too (ours fill the
  gaps in theirs: accounts/vendor_messages.py).
- Admin labels and model names read in Chinese on Chinese pages: one built at import time with
  `%` or an f-string would be fixed in English, so both a check of the labels themselves and a
  check of the source catch that.

Extraction needs GNU gettext (xgettext), as `make messages` does.
"""

from __future__ import annotations

import ast
import gettext as gnu_gettext
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import label_for_field
from django.core.management import call_command
from django.test import RequestFactory, override_settings
from django.utils import translation
from django.utils.translation import trans_real

BASE_DIR = Path(settings.BASE_DIR)
CATALOGUE = BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
COMPILED = CATALOGUE.with_suffix(".mo")
MESSAGES_SCRIPT = BASE_DIR / "scripts" / "messages"
# Never part of the source tree that makemessages reads.
NOT_SOURCE = {".git", ".venv", "var", "node_modules", "locale", "__pycache__"}

Key = tuple[str | None, str]  # (msgctxt, msgid)


# --- reading .po files ------------------------------------------------------------------------


@dataclass
class PoEntry:
    msgctxt: str | None
    msgid: str
    msgid_plural: str | None
    msgstrs: list[str]
    fuzzy: bool
    obsolete: bool

    @property
    def key(self) -> Key:
        return (self.msgctxt, self.msgid)

    @property
    def translated(self) -> bool:
        return any(self.msgstrs)


def _unquote(chunk: str) -> str:
    # A PO string is a C string; its escapes (\" \\ \n \t) read the same as Python's.
    value = ast.literal_eval(f'"{chunk}"')
    assert isinstance(value, str)
    return value


def read_po(path: Path) -> dict[Key, PoEntry]:
    """The entries of a .po file by (msgctxt, msgid), the header left out."""
    entries: dict[Key, PoEntry] = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        obsolete = all(line.startswith("#~") for line in block.strip().splitlines() if line)
        fields: dict[str, str] = {}
        current = None
        fuzzy = False
        for raw in block.splitlines():
            line = raw[2:].lstrip() if raw.startswith("#~") else raw
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) "(.*)"$', line)
            if match:
                current = match.group(1)
                fields[current] = _unquote(match.group(2))
            elif current and re.match(r'^"(.*)"$', line):
                fields[current] += _unquote(line[1:-1])
        if not fields.get("msgid"):
            continue  # the header, or a stray comment
        msgstrs = [v for k, v in sorted(fields.items()) if k.startswith("msgstr")]
        entry = PoEntry(
            fields.get("msgctxt"),
            fields["msgid"],
            fields.get("msgid_plural"),
            msgstrs,
            fuzzy,
            obsolete,
        )
        entries[entry.key] = entry
    return entries


def _ours() -> dict[Key, PoEntry]:
    return {k: e for k, e in read_po(CATALOGUE).items() if not e.obsolete}


def _needs_gettext() -> None:
    if not shutil.which("xgettext"):
        pytest.fail("GNU gettext is needed to extract the messages (apt-get install gettext)")


# --- extraction, as `make messages` does it ---------------------------------------------------


def _ignore_patterns() -> list[str]:
    """The --ignore patterns of scripts/messages, so the test extracts exactly what it does."""
    script = MESSAGES_SCRIPT.read_text(encoding="utf-8")
    return [p.strip("'\"") for p in re.findall(r"--ignore=(\S+?)[\s)]", script)]


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> dict[Key, PoEntry]:
    """Every message the code and templates use: makemessages run over a mirror of the tree
    (symlinks) into a temporary locale directory, so the real catalogue is never touched."""
    _needs_gettext()
    root = tmp_path_factory.mktemp("messages")
    tree = root / "tree"
    tree.mkdir()
    for entry in BASE_DIR.iterdir():
        if entry.name not in NOT_SOURCE:
            (tree / entry.name).symlink_to(entry)
    locale_dir = root / "locale"
    cwd = os.getcwd()
    os.chdir(tree)
    try:
        with override_settings(LOCALE_PATHS=[str(locale_dir)]):
            call_command(
                "makemessages",
                locale=["zh_Hans"],
                symlinks=True,
                ignore_patterns=list(_ignore_patterns()),
                verbosity=0,
            )
    finally:
        os.chdir(cwd)
    extracted = read_po(locale_dir / "zh_Hans" / "LC_MESSAGES" / "django.po")
    assert len(extracted) > 100, "the extraction found almost nothing: is the tree mirrored?"
    return extracted


def test_the_extraction_uses_the_ignores_of_make_messages():
    assert "*/tests/*" in _ignore_patterns() and ".venv" in _ignore_patterns()


def test_every_message_the_code_uses_is_in_the_catalogue(extracted):
    ours = _ours()
    missing = sorted(str(key) for key in extracted if key not in ours)
    assert missing == [], "run `make messages` and translate these"


def test_every_message_the_code_uses_is_translated_and_not_fuzzy(extracted):
    ours = _ours()
    empty = sorted(str(k) for k in extracted if k in ours and not ours[k].translated)
    fuzzy = sorted(str(k) for k in extracted if k in ours and ours[k].fuzzy)
    assert (empty, fuzzy) == ([], []), "gettext shows empty and fuzzy entries in English"


def test_every_message_has_a_chinese_translation():
    assert [e.key for e in _ours().values() if not e.translated] == []


def test_no_translation_is_marked_fuzzy():
    # gettext ignores fuzzy entries, so they would show in English.
    assert [e.key for e in _ours().values() if e.fuzzy] == []


def test_the_compiled_catalogue_says_what_the_source_says():
    with COMPILED.open("rb") as fp:
        compiled = gnu_gettext.GNUTranslations(fp)._catalog  # type: ignore[attr-defined]
    stale = []
    for entry in _ours().values():
        ident = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            if compiled.get(ident) != entry.msgstrs[0]:
                stale.append(entry.key)
        elif [compiled.get((ident, i)) for i in range(len(entry.msgstrs))] != entry.msgstrs:
            stale.append(entry.key)
    assert stale == [], "run `make messages` (compilemessages) and commit the .mo"


def test_the_compiled_catalogue_translates_the_interface():
    with translation.override("zh-hans"):
        assert translation.gettext("Borrowers") == "借款人"
        assert translation.pgettext("navigation", "Home") == "首页"
        assert translation.gettext("Equal instalments") == "等额本息"
        assert translation.pgettext("drawdown status", "Active") == "未结清"
        assert translation.pgettext("credit line status", "Active") == "正常"
        assert translation.pgettext("drawdown status", "Settled") == "已结清"
        assert translation.pgettext("settlement date", "Settled") == "结清日期"
        assert translation.pgettext("repayment mode", "Repayment") == "还款方式"
        assert translation.gettext("Repayment") == "还款"
        assert translation.pgettext("drawdown purpose", "Home") == "家装"
        assert translation.gettext("Home") == "首页"  # Django's own: the admin breadcrumb
        assert translation.gettext("Due date") == "应还款日"
        assert translation.pgettext("payment", "reference") == "流水号"


# --- Django's and django-axes' strings --------------------------------------------------------

# Apps of Django whose strings show on our pages, by their English catalogue (which lists every
# msgid of the installed version).
DJANGO_CATALOGUES = ["django.conf", "django.contrib.auth", "django.contrib.admin"]
# django-axes has no English catalogue: its msgids are extracted from its source.
XGETTEXT_KEYWORDS = [
    "--keyword=_",
    "--keyword=gettext_lazy",
    "--keyword=gettext_noop",
    "--keyword=ngettext_lazy:1,2",
    "--keyword=pgettext_lazy:1c,2",
]


def _english_catalogue(module: str) -> Path:
    package = Path(__import__(module, fromlist=["_"]).__file__ or "").parent
    return package / "locale" / "en" / "LC_MESSAGES" / "django.po"


def _axes_messages(tmp_path: Path) -> dict[Key, PoEntry]:
    import axes

    sources = sorted(
        str(p)
        for p in Path(axes.__file__).parent.rglob("*.py")
        if "migrations" not in p.parts and "tests" not in p.parts
    )
    pot = tmp_path / "axes.pot"
    subprocess.run(  # noqa: S603 (fixed arguments: xgettext over the installed package)
        ["xgettext", "-L", "Python", "--from-code=UTF-8", *XGETTEXT_KEYWORDS, "-o", str(pot)]
        + sources,
        check=True,
    )
    return read_po(pot)


def _untranslated_in_chinese(entries: dict[Key, PoEntry]) -> list[Key]:
    catalog = trans_real.translation("zh-hans")._catalog  # type: ignore[attr-defined]  # merged
    missing = []
    for entry in entries.values():
        ident = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if (ident if entry.msgid_plural is None else (ident, 0)) not in catalog:
            missing.append(entry.key)
    return missing


def test_the_django_strings_on_our_pages_are_translated():
    missing = []
    for module in DJANGO_CATALOGUES:
        missing += _untranslated_in_chinese(read_po(_english_catalogue(module)))
    assert missing == [], "add them to accounts/vendor_messages.py, then `make messages`"


def test_the_axes_strings_are_translated(tmp_path):
    _needs_gettext()
    assert _untranslated_in_chinese(_axes_messages(tmp_path)) == [], (
        "add them to accounts/vendor_messages.py, then `make messages`"
    )


def test_the_password_validators_speak_chinese():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for language, too_short in [
        ("en", "This password is too short. It must contain at least 10 characters."),
        ("zh-hans", "密码长度太短。密码必须包含至少 10 个字符。"),
    ]:
        with translation.override(language), pytest.raises(ValidationError) as refused:
            validate_password("short")
        assert too_short in refused.value.messages


def test_the_axes_lockout_message_speaks_chinese():
    from axes.helpers import get_lockout_message

    with translation.override("zh-hans"):
        assert str(get_lockout_message()) == "账号已锁定：登录失败次数过多，请稍后再试。"
    with translation.override("en"):
        assert str(get_lockout_message()).startswith("Account locked: too many login attempts.")


# --- admin labels and model names -------------------------------------------------------------

# Words that are the same in both languages (names, codes): Chinese pages show them as they are.
SAME_IN_BOTH_LANGUAGES = {"Axes"}


def _labels(request: Any) -> Iterator[tuple[str, Callable[[], Any]]]:
    """(where, label getter) for every label the admin shows: app and model names, fields and
    their choices, list columns, read-only fields, fieldset titles and actions. A getter, as
    some labels (a column's) are worked out in the language active when asked."""

    def fixed(label: Any) -> Callable[[], Any]:
        return lambda: label

    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        where = f"{opts.app_label}.{opts.model_name}"
        yield f"app {opts.app_label}", fixed(apps.get_app_config(opts.app_label).verbose_name)
        yield where, fixed(opts.verbose_name)
        yield where, fixed(opts.verbose_name_plural)
        for field in opts.get_fields():
            if field.auto_created or not hasattr(field, "verbose_name"):
                continue
            yield f"{where}.{field.name}", fixed(field.verbose_name)
            for _value, choice in getattr(field, "flatchoices", None) or []:
                yield f"{where}.{field.name} choice", fixed(choice)
        columns = [*model_admin.get_list_display(request), *model_admin.readonly_fields]
        for name in columns:
            if name != "action_checkbox":
                yield f"{where} column {name}", partial(label_for_field, name, model, model_admin)
        for fieldsets in (model_admin.fieldsets, getattr(model_admin, "add_fieldsets", None)):
            for title, _options in fieldsets or ():
                if title is not None:
                    yield f"{where} fieldset", fixed(title)
        actions: dict[str, Any] = model_admin.get_actions(request)
        for _func, name, description in actions.values():
            yield f"{where} action {name}", fixed(description)


def test_admin_labels_and_model_names_read_in_chinese_on_chinese_pages():
    from accounts.models import User

    request = RequestFactory().get("/admin/")
    request.user = User(username="root", is_superuser=True, is_staff=True, is_active=True)
    same = SAME_IN_BOTH_LANGUAGES | {e.msgid for e in _ours().values() if e.msgstrs[0] == e.msgid}
    english_only = []
    for where, label in _labels(request):
        with translation.override("en"):
            english = str(label())
        with translation.override("zh-hans"):
            chinese = str(label())
        if chinese == english and re.search("[A-Za-z]", english) and english not in same:
            english_only.append(f"{where}: {english}")
    assert english_only == [], (
        "missing from the catalogue, or formatted at import time (use format_lazy)"
    )


# --- formatting at import time, in the source -------------------------------------------------

TRANSLATION_FUNCTIONS = {
    "gettext",
    "gettext_lazy",
    "pgettext",
    "pgettext_lazy",
    "ngettext",
    "ngettext_lazy",
    "npgettext",
    "npgettext_lazy",
}
FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def import_time_formatting(source: str, filename: str = "<source>") -> list[str]:
    """Translated strings formatted when the module is imported, `path:line` each.

    Formatting (`%`, `.format`, an f-string) turns a lazy translation into a plain string in
    the language active at import, English: module and class bodies, decorators and default
    arguments are checked, and so are the module's own functions called from there (a label
    built by a helper the class body calls). An f-string as the msgid itself is flagged
    anywhere: makemessages cannot extract it.
    """
    tree = ast.parse(source, filename)
    names = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation"
        for alias in node.names
        if alias.name in TRANSLATION_FUNCTIONS
    }

    def is_translation(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names
        )

    def formats(node: ast.AST) -> bool:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return is_translation(node.left)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            return node.func.attr == "format" and is_translation(node.func.value)
        if isinstance(node, ast.FormattedValue):
            return any(is_translation(n) for n in ast.walk(node.value))
        return False

    def import_time_nodes(node: ast.AST) -> Iterator[ast.AST]:
        """The nodes run on import: everything but function bodies."""
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for part in [*child.decorator_list, *child.args.defaults, *child.args.kw_defaults]:
                    if part is not None:
                        yield from import_time_nodes(part)
            elif isinstance(child, ast.Lambda):
                yield from import_time_nodes(child.args)
            else:
                yield from import_time_nodes(child)

    formatting_functions = {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and any(formats(n) for n in ast.walk(node))
    }
    found = []
    for node in import_time_nodes(tree):
        if formats(node):
            found.append(f"{filename}:{getattr(node, 'lineno', '?')}: formatted on import")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in formatting_functions
        ):
            found.append(f"{filename}:{node.lineno}: {node.func.id}() formats a label on import")
    found.extend(
        f"{filename}:{node.lineno}: an f-string as msgid"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and is_translation(node)
        and any(isinstance(arg, ast.JoinedStr) for arg in node.args)
    )
    return found


def _project_modules() -> Iterator[Path]:
    for path in sorted(BASE_DIR.rglob("*.py")):
        parts = path.relative_to(BASE_DIR).parts
        if NOT_SOURCE.intersection(parts) or "migrations" in parts or "tests" in parts:
            continue
        if parts[0] in {"bench", "scripts"}:
            continue  # not extracted by `make messages`: no UI strings there
        yield path


def test_no_translated_string_is_formatted_at_import_time():
    found = []
    for path in _project_modules():
        source = path.read_text(encoding="utf-8")
        found += import_time_formatting(source, str(path.relative_to(BASE_DIR)))
    assert found == [], "format lazily (django.utils.text.format_lazy) or per request"


SET_ROLE_AS_IT_WAS = """
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

def _set_role_action(role):
    def action(modeladmin, request, queryset):
        pass
    return admin.action(description=_("Set role: %(role)s") % {"role": role.label})(action)

class UserAdmin(admin.ModelAdmin):
    actions = [*(_set_role_action(role) for role in ROLES)]
"""


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        (SET_ROLE_AS_IT_WAS, True),
        ("from django.utils.translation import gettext_lazy as _\nX = _('%s') % 1\n", True),
        ("from django.utils.translation import gettext as g\nX = f'{g(\"a\")}!'\n", True),
        ("from django.utils.translation import gettext_lazy as _\nX = _('a').format(1)\n", True),
        ("from django.utils.translation import gettext as _\ndef f(x):\n    _(f'{x}')\n", True),
        # At request time, in a function nothing calls on import: fine.
        ("from django.utils.translation import gettext as _\ndef f(n):\n    _('%s') % n\n", False),
        (
            "from django.utils.text import format_lazy\nfrom django.utils.translation import "
            "gettext_lazy as _\nX = format_lazy(_('Set role: {r}'), r=1)\n",
            False,
        ),
    ],
)
def test_the_import_time_check_catches_the_old_set_role_label(source, flagged):
    assert bool(import_time_formatting(source)) is flagged
