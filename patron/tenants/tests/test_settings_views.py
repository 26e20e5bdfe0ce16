import pytest
from django.core import mail
from django_scopes import scope

from patron.contacts.models import ActivityEvent
from patron.tenants.models import ApiKey, Role, StaffAccess

pytestmark = pytest.mark.django_db


def test_owner_invites_a_staff_user_who_gets_a_password_link(
    trio, django_capture_on_commit_callbacks
):
    client = trio.login(trio.alice)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/settings/staff/", {"email": "lan@example.com", "role": "manager"})
    assert answer.status_code == 302
    assert StaffAccess.objects.get(user__email="lan@example.com").role == Role.MANAGER
    assert "/password/" in mail.outbox[0].body


def test_staff_role_cannot_open_staff_users_or_api_keys(trio):
    bob = trio.login(trio.bob)
    assert bob.get("/settings/staff/").status_code == 403
    assert bob.get("/settings/api-keys/").status_code == 403
    assert bob.post("/settings/api-keys/", {"name": "x"}).status_code == 403
    assert bob.get("/settings/language/").status_code == 200


def test_removing_access_asks_a_reason_and_records_who_and_why(trio):
    client = trio.login(trio.alice)
    client.post(f"/settings/staff/{trio.bob.pk}/remove/", {"reason": ""})
    assert StaffAccess.objects.filter(user=trio.bob).exists()
    client.post(f"/settings/staff/{trio.bob.pk}/remove/", {"reason": "Left the shop"})
    assert not StaffAccess.objects.filter(user=trio.bob, merchant=trio.merchant).exists()
    with scope(merchant=trio.merchant):
        event = ActivityEvent.objects.get(type="staff_removed")
    assert event.data["reason"] == "Left the shop"
    assert event.actor_label == "alice@example.com"


def test_the_last_owner_cannot_demote_themself(trio):
    client = trio.login(trio.alice)
    client.post(f"/settings/staff/{trio.alice.pk}/role/", {"role": "staff"})
    assert StaffAccess.objects.get(user=trio.alice).role == Role.OWNER


def test_outsider_cannot_change_roles_at_another_merchant(trio):
    charlie = trio.login(trio.charlie)
    charlie.post(f"/settings/staff/{trio.bob.pk}/role/", {"role": "owner"})
    assert StaffAccess.objects.get(user=trio.bob).role == Role.STAFF


def test_a_new_api_key_is_shown_once_and_can_be_revoked(trio):
    client = trio.login(trio.alice)
    page = client.post("/settings/api-keys/", {"name": "POS"}).content.decode()
    assert "ptr_" in page and "shown only once" in page
    with scope(merchant=trio.merchant):
        key = ApiKey.objects.get(name="POS")
    again = client.get("/settings/api-keys/").content.decode()
    assert "shown only once" not in again
    client.post(f"/settings/api-keys/{key.pk}/revoke/", {"reason": "Till replaced"})
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_outsider_cannot_revoke_another_merchants_key(trio):
    with scope(merchant=trio.merchant):
        key = ApiKey.objects.get(merchant=trio.merchant)
    trio.login(trio.charlie).post(f"/settings/api-keys/{key.pk}/revoke/", {"reason": "x"})
    key.refresh_from_db()
    assert key.revoked_at is None


def test_language_preference_is_saved_and_follows_the_login(trio):
    client = trio.login(trio.bob)
    client.post("/settings/language/", {"language": "vi"})
    trio.bob.refresh_from_db()
    assert trio.bob.language == "vi"
    fresh = type(client)()
    fresh.post("/login/", {"username": "bob@example.com", "password": "password"})
    assert "Khách hàng" in fresh.get("/contacts/").content.decode()


def test_a_merchant_with_an_unknown_time_zone_still_gets_its_pages_in_utc(trio):
    import zoneinfo

    trio.merchant.timezone = "Mars/Olympus_Mons"
    trio.merchant.save()
    assert trio.merchant.zone == zoneinfo.ZoneInfo("UTC")
    assert trio.login(trio.alice).get("/contacts/").status_code == 200
