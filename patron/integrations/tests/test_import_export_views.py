import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope

from patron.contacts import services as contacts
from patron.contacts.models import Contact
from patron.integrations import tasks
from patron.integrations.models import ImportBatch, ImportStatus

pytestmark = pytest.mark.django_db

FILE = b"Phone,Name,Birthday\n0980000001,Mark Nguyen,1990-05-01\n12345,Bad Phone,\n"


def upload(client):
    answer = client.post(
        "/integrations/import/", {"file": SimpleUploadedFile("people.csv", FILE, "text/csv")}
    )
    assert answer.status_code == 302
    return answer["Location"]


def run_jobs(trio):
    with scope(merchant=trio.merchant):
        batch = ImportBatch.objects.get()
    tasks.import_run_task.call(trio.merchant.pk, batch.pk)
    with scope(merchant=trio.merchant):
        batch.refresh_from_db()
    return batch


def test_upload_map_dry_run_then_import_from_the_app(trio, django_capture_on_commit_callbacks):
    client = trio.login(trio.alice)
    url = upload(client)
    page = client.get(url).content.decode()
    assert 'id="map-0"' in page and "Dry run" in page

    mapping = {"map-0": "phone", "map-1": "name", "map-2": "birthday", "run": "dry_run"}
    assert client.post(url, mapping).status_code == 302
    batch = run_jobs(trio)
    assert batch.status == ImportStatus.CHECKED
    page = client.get(url).content.decode()
    assert "Bad phone number" in page
    assert "1 created, 0 updated, 0 unchanged, 1 with errors" in page
    with scope(merchant=trio.merchant):
        assert not Contact.objects.exists()

    assert client.post(f"{url}run/").status_code == 302
    progress = client.get(url, headers={"HX-Request": "true", "HX-Target": "import-progress"})
    assert b"<progress" in progress.content and b'hx-trigger="every 1s"' in progress.content
    batch = run_jobs(trio)
    assert batch.status == ImportStatus.FINISHED
    with scope(merchant=trio.merchant):
        assert Contact.objects.get().first_name == "Mark"
    assert "Undo import" in client.get(url).content.decode()


def test_a_mapping_without_phone_or_external_id_is_refused(trio):
    client = trio.login(trio.alice)
    url = upload(client)
    answer = client.post(url, {"map-0": "", "map-1": "name", "run": "dry_run"})
    assert answer.status_code == 422
    assert "phone" in answer.content.decode()


def test_exports_stream_csv(trio, in_merchant):
    contacts.contact_create(
        merchant=trio.merchant,
        actor=trio.actor,
        first_name="Mark",
        phone="0980000001",
        tags=["vip"],
    )
    client = trio.login(trio.alice)
    answer = client.get("/integrations/export/contacts.csv")
    assert answer.status_code == 200
    assert answer.streaming
    text = b"".join(answer.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["first_name"], r["phone"], r["tags"]) for r in rows] == [
        ("Mark", "+84980000001", "vip")
    ]
    for kind in ("members", "ledger"):
        answer = client.get(f"/integrations/export/{kind}.csv")
        assert answer.status_code == 200
        header = b"".join(answer.streaming_content).decode("utf-8-sig").splitlines()[0]
        assert header.startswith("id,")


def test_outsiders_get_404_for_an_import_and_see_no_contacts_in_their_export(trio, in_merchant):
    contacts.contact_create(merchant=trio.merchant, actor=trio.actor, first_name="Mark")
    url = upload(trio.login(trio.alice))
    charlie = trio.login(trio.charlie)
    assert charlie.get(url).status_code == 404
    assert charlie.post(f"{url}undo/").status_code == 404
    text = b"".join(charlie.get("/integrations/export/contacts.csv").streaming_content)
    assert b"Mark" not in text


def test_staff_role_may_not_import_or_export(trio):
    bob = trio.login(trio.bob)
    assert bob.get("/integrations/import/").status_code == 403
    assert bob.get("/integrations/export/contacts.csv").status_code == 403
