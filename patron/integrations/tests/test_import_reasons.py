"""The import page says why a row failed in the staff user's language; the stored
message, which the command line prints, stays the English sentence."""

import pytest
from django.core.management import call_command
from django.utils import translation
from django_scopes import scope

from patron.integrations.models import ImportBatch, ImportRow, RowOutcome
from patron.integrations.tests.test_imports import HEADER, run, write_csv

pytestmark = pytest.mark.django_db

ROWS = [
    ["c1", "Mark Nguyen", "0980000001", "", "", ""],  # row 1
    ["c2", "Bad Date", "0980000002", "", "31/31/2020", ""],  # row 2
    ["c3", "Bad Phone", "12345", "", "", ""],  # row 3
    ["c1", "Mark Again", "0980000001", "", "", ""],  # row 4: duplicate of row 1
    ["c5", "Bad Email", "0980000005", "not-an-email", "", ""],  # row 5
]
ENGLISH = {
    2: "Bad date '31/31/2020': use YYYY-MM-DD or DD/MM/YYYY.",
    3: "Bad phone number '12345'.",
    4: "Duplicate of row 1.",
    5: "Bad email 'not-an-email'.",
}
VIETNAMESE = {
    2: "Ngày không hợp lệ &#x27;31/31/2020&#x27;: hãy dùng YYYY-MM-DD hoặc DD/MM/YYYY.",
    3: "Số điện thoại không hợp lệ &#x27;12345&#x27;.",
    4: "Trùng với dòng 1.",
    5: "Email không hợp lệ &#x27;not-an-email&#x27;.",
}


def imported(trio, tmp_path, rows=ROWS, header=HEADER):
    path = write_csv(tmp_path / "customers.csv", rows, header)
    with scope(merchant=trio.merchant):
        batch = run(trio, path)
        found = ImportRow.objects.filter(batch=batch, outcome=RowOutcome.ERROR)
        return batch, {row.row_number: row for row in found.order_by("row_number")}


def test_the_import_page_gives_each_reason_in_vietnamese(trio, tmp_path):
    batch, _rows = imported(trio, tmp_path)
    client = trio.login(trio.alice)
    client.post("/i18n/setlang/", {"language": "vi"})
    url = f"/integrations/import/{batch.pk}/"
    page = client.get(url, headers={"Accept-Language": "vi"}).content.decode()

    for text in VIETNAMESE.values():
        assert text in page
    assert "Bad date" not in page and "Duplicate of row" not in page
    assert "Bad phone number" not in page and "Bad email" not in page
    # The outcome column and the batch's status are in Vietnamese too.
    assert "<td>Lỗi</td>" in page and "<td>Tạo mới</td>" in page
    assert "<td>Error</td>" not in page and "<td>Created</td>" not in page
    assert "Hoàn tất" in page and "Finished" not in page


def test_the_import_page_gives_each_reason_in_english(trio, tmp_path):
    batch, _rows = imported(trio, tmp_path)
    page = trio.login(trio.alice).get(f"/integrations/import/{batch.pk}/").content.decode()

    for text in ENGLISH.values():
        assert text.replace("'", "&#x27;") in page
    assert "Ngày không hợp lệ" not in page


def test_the_stored_messages_and_the_command_line_stay_english(trio, tmp_path, capsys, settings):
    settings.LANGUAGE_CODE = "vi"
    with translation.override("vi"):
        _batch, rows = imported(trio, tmp_path)
        assert {number: row.message for number, row in rows.items()} == ENGLISH
        assert {number: row.reason_code for number, row in rows.items()} == {
            2: "bad_date",
            3: "invalid_phone",
            4: "duplicate",
            5: "bad_email",
        }
        call_command("import", "alpha", write_csv(tmp_path / "again.csv", ROWS), "--dry-run")
    out = capsys.readouterr().out
    for number, message in ENGLISH.items():
        assert f"row {number}: {message}" in out


def test_every_reason_reads_in_english_as_its_stored_message(trio, tmp_path):
    header = [*HEADER, "Points"]
    rows = [
        ["c1", "Mark Nguyen", "0980000001", "", "", "", "10"],  # row 1
        ["c2", "Bad Date", "0980000002", "", "1990-13-45", "", ""],  # row 2
        ["c3", "Bad Phone", "12345", "", "", "", ""],  # row 3
        ["c1", "Mark Again", "0980000001", "", "", "", ""],  # row 4
        ["c5", "Bad Email", "0980000005", "not-an-email", "", "", ""],  # row 5
        ["c6", "Bad Points", "0980000006", "", "", "", "ten"],  # row 6
        ["c7", "Negative", "0980000007", "", "", "", "-5"],  # row 7
        ["c8", "N" * 101, "0980000008", "", "", "", ""],  # row 8
        ["", "No Key", "", "nokey@example.com", "", "", ""],  # row 9
        ["c10", "", "", "", "", "", ""],  # row 10: nothing to know the customer by
        ["c11", "Long Tag", "0980000011", "", "", "t" * 101, ""],  # row 11
    ]
    _batch, found = imported(trio, tmp_path, rows, header)

    assert sorted(found) == list(range(2, 12))
    assert {row.reason_code for row in found.values()} == {
        "bad_date",
        "invalid_phone",
        "duplicate",
        "bad_email",
        "bad_points",
        "negative_points",
        "name_too_long",
        "no_key",
        "contact_needs_identity",
        "invalid_input",
    }
    with translation.override("en"):
        assert all(row.reason == row.message for row in found.values())
    with translation.override("vi"):
        reasons = {number: row.reason for number, row in found.items()}
    assert reasons[6] == "Số điểm không hợp lệ 'ten': hãy dùng số nguyên."
    assert reasons[11] == "Tên thẻ có từ 1 đến 100 ký tự."
    assert not any(reasons[number] == found[number].message for number in found)


def test_a_row_without_a_known_reason_code_shows_its_stored_message(trio, tmp_path):
    batch, rows = imported(trio, tmp_path)
    with scope(merchant=trio.merchant):
        # As a row written before reasons had codes, and an error of another app.
        ImportRow.objects.filter(pk=rows[2].pk).update(reason_code="", reason_params={})
        ImportRow.objects.filter(pk=rows[3].pk).update(reason_code="member_excluded")
        batch = ImportBatch.objects.get(pk=batch.pk)
    client = trio.login(trio.alice)
    client.post("/i18n/setlang/", {"language": "vi"})
    page = client.get(f"/integrations/import/{batch.pk}/").content.decode()

    assert "Bad date &#x27;31/31/2020&#x27;" in page
    assert "Bad phone number &#x27;12345&#x27;." in page
    assert VIETNAMESE[4] in page
