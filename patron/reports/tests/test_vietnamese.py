"""Every staff page, rendered in Vietnamese, shows no English left untranslated.

Two checks on each page's visible text (text nodes and the accessible names in
aria-label, placeholder, title and alt):
- no text is the English msgid of a catalogue entry that has a different Vietnamese
  translation (a string marked but not translated, or rendered outside the language);
- no text is the same in the English and the Vietnamese rendering unless it is data
  (names, codes, reasons typed by people: every string stored for the merchant), a
  number, or an entry whose Vietnamese is the same word (e.g. "Email").
"""

from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

from django.apps import apps
from django.db import models
from django.test import Client
from django.utils import translation
from django.utils.translation import trans_real
from django_scopes import scopes_disabled

from patron.reports.tests.test_staff_pages import owner, staff_urls

ATTRIBUTES = {"aria-label", "placeholder", "title", "alt"}


class VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        for name, value in attrs:
            if name in ATTRIBUTES and value:
                self.texts.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def visible_texts(html: str) -> set[str]:
    parser = VisibleText()
    parser.feed(html)
    return {t for t in parser.texts if any(ch.isalpha() for ch in t)}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def stored_strings() -> set[str]:
    """Every text stored in the database: what people and systems typed is data."""
    found: set[str] = set()
    with scopes_disabled():
        for model in apps.get_models():
            if not model.__module__.startswith(("patron.", "django.contrib.auth")):
                continue
            names = [
                f.name
                for f in model._meta.concrete_fields
                if isinstance(f, (models.CharField, models.TextField, models.JSONField))
            ]
            if not names:
                continue
            for row in model._default_manager.values_list(*names):
                for value in row:
                    found.update(s.strip() for s in _strings(value) if s and s.strip())
    return found


def is_data(text: str, data: set[str]) -> bool:
    if any(ch.isdigit() for ch in text) or "@" in text:
        return True
    return text in data or any(len(d) >= 4 and d in text for d in data)


def test_every_staff_page_in_vietnamese_has_no_untranslated_text(demo):
    catalog = trans_real.translation("vi")._catalog
    english = {k for k, v in catalog.items() if isinstance(k, str) and k and v != k}
    same_in_both = {k for k, v in catalog.items() if isinstance(k, str) and v == k}
    data = stored_strings()
    client: Client = owner(demo)
    problems: dict[str, set[str]] = {}
    for url in staff_urls(demo.merchant):
        client.cookies["django_language"] = "en"
        english_page = visible_texts(client.get(url).content.decode())
        client.cookies["django_language"] = "vi"
        answer = client.get(url)
        assert answer.status_code == 200, url
        vietnamese_page = visible_texts(answer.content.decode())
        left = {t for t in vietnamese_page if t in english and not is_data(t, data)}
        left -= ALWAYS_THE_SAME
        left |= {
            t
            for t in vietnamese_page & english_page
            if t not in same_in_both and not is_data(t, data) and t not in ALWAYS_THE_SAME
        }
        if left:
            problems[url] = left
    translation.activate("en")
    assert sorted(set().union(*problems.values())) == [], problems


# Names that are the same in every language.
ALWAYS_THE_SAME = {"Patron", "English", "Tiếng Việt", "SMS", "API", "JSON", "#", "—", "×", "⋯"}  # noqa: RUF001
