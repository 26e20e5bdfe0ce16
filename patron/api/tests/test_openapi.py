import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_openapi_document_lists_the_contact_operations():
    spec = Client().get("/api/v1/openapi.json").json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/contacts"])
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/contacts/{contact_id}"])
    assert "/api/v1/contacts/{contact_id}/notes" in paths


def test_docs_page_is_served():
    assert Client().get("/api/v1/docs").status_code == 200
