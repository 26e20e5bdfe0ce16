import pytest
from django.test import Client
from django_scopes import scope

from patron.contacts import services
from patron.tenants.middleware import SESSION_MERCHANT

pytestmark = pytest.mark.django_db


@pytest.fixture
def mark(trio):
    with scope(merchant=trio.merchant):
        return services.contact_create(
            merchant=trio.merchant, actor=trio.actor, first_name="Mark", phone="0980000000"
        )


def test_pages_need_a_login(trio):
    answer = Client().get("/contacts/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/login/")


def test_contacts_search_by_phone_in_another_format(trio, mark):
    page = trio.login(trio.bob).get("/contacts/", {"q": "+84 980 000 000"})
    assert page.status_code == 200
    assert "Mark" in page.content.decode()


def test_htmx_search_renders_only_the_results(trio, mark):
    page = trio.login(trio.alice).get(
        "/contacts/", {"q": "mark"}, headers={"HX-Request": "true", "HX-Target": "contact-results"}
    )
    assert b"<table" in page.content
    assert b'<nav class="sidebar"' not in page.content


def test_create_contact_and_add_a_note(trio):
    client = trio.login(trio.bob)
    made = client.post("/contacts/create/", {"first_name": "Lan", "phone": "0912 345 678"})
    assert made.status_code == 302
    profile_url = made["Location"]
    client.post(profile_url + "notes/", {"text": "Likes oat milk"})
    page = client.get(profile_url)
    assert "Likes oat milk" in page.content.decode()


def test_create_contact_with_a_bad_phone_shows_the_error(trio):
    answer = trio.login(trio.alice).post("/contacts/create/", {"first_name": "X", "phone": "12"})
    assert answer.status_code == 422
    assert "not a valid phone number" in answer.content.decode()


def test_outsider_gets_404_for_another_merchants_contact(trio, mark):
    charlie = trio.login(trio.charlie)
    assert charlie.get(f"/contacts/{mark.pk}/").status_code == 404
    assert charlie.post(f"/contacts/{mark.pk}/notes/", {"text": "x"}).status_code == 404
    assert "Mark" not in charlie.get("/contacts/", {"q": "0980000000"}).content.decode()


def test_outsider_cannot_switch_into_another_merchant(trio, mark):
    charlie = trio.login(trio.charlie)
    charlie.post("/switch/", {"merchant": trio.merchant.pk})
    assert charlie.session.get(SESSION_MERCHANT) is None
    assert "Mark" not in charlie.get("/contacts/").content.decode()


def test_agency_admin_switches_between_the_agencys_merchants(trio, mark):
    from patron.factories import MerchantFactory
    from patron.tenants.services import agency_admin_grant

    sister = MerchantFactory(agency=trio.merchant.agency, name="Alpha North")
    agency_admin_grant(agency=trio.merchant.agency, user=trio.charlie)
    charlie = trio.login(trio.charlie)
    menu = charlie.get("/contacts/").content.decode()
    assert "Alpha Café" in menu and "Alpha North" in menu and "Beta Shop" in menu
    charlie.post("/switch/", {"merchant": trio.merchant.pk})
    assert "Mark" in charlie.get("/contacts/").content.decode()
    charlie.post("/switch/", {"merchant": sister.pk})
    assert "Mark" not in charlie.get("/contacts/").content.decode()


def test_the_staff_app_speaks_vietnamese(trio, mark):
    client = trio.login(trio.alice)
    client.post("/i18n/setlang/", {"language": "vi", "next": "/contacts/"})
    page = client.get("/contacts/").content.decode()
    assert "Tạo khách hàng" in page and "Khách hàng" in page
