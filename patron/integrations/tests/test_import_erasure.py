"""Erasing a customer also blanks their line in the uploaded file of an import."""

import pytest
from django_scopes import scope

from patron.contacts.models import Contact
from patron.contacts.privacy import contact_erase
from patron.integrations import imports
from patron.integrations.tests.test_imports import GOOD, run, write_csv

pytestmark = pytest.mark.django_db


def test_erasing_a_customer_blanks_their_line_in_the_uploaded_file(trio, tmp_path):
    path = write_csv(tmp_path / "customers.csv", GOOD)
    with scope(merchant=trio.merchant):
        run(trio, path)
        lan = Contact.objects.get(merchant=trio.merchant, phone="+84980000002")
        contact_erase(merchant=trio.merchant, contact=lan, actor=trio.actor, reason="Asked")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    assert "Lan Tran" not in text and "0980.000.002" not in text
    assert "Mark Nguyen" in text and "Minh Le" in text
    # The other rows keep their numbers, so the batch can still be resumed or undone.
    numbers = [number for number, _row in imports.read_rows(path)]
    assert numbers == [1, 3]
