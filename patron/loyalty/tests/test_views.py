import pytest
from django_scopes import scope

from patron.contacts.services import contact_create
from patron.loyalty.models import MemberStatus
from patron.loyalty.services import member_ensure

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(trio):
    with scope(merchant=trio.merchant):
        mark = contact_create(
            merchant=trio.merchant, actor=trio.actor, first_name="Mark", phone="0980000000"
        )
        return member_ensure(merchant=trio.merchant, contact=mark, actor=trio.actor)


def test_delete_member_is_refused_while_the_contact_has_the_phone(trio, member):
    client = trio.login(trio.alice)
    page = client.post(
        f"/loyalty/members/{member.pk}/delete/", {"reason": "dup"}, follow=True
    ).content.decode()
    assert "Remove from program" in page and "cannot be deleted" in page
    member.refresh_from_db()
    assert member.deleted_at is None


def test_activate_then_give_points_from_the_points_tab(trio, member):
    client = trio.login(trio.bob)
    client.post(f"/loyalty/members/{member.pk}/activate/", {"reason": "Asked at the till"})
    client.post(f"/loyalty/members/{member.pk}/points/", {"amount": "30"})
    member.refresh_from_db()
    assert member.status == MemberStatus.ACTIVE
    assert member.points_available == 30
    assert "30" in client.get(f"/contacts/{member.contact_id}/points/").content.decode()


def test_outsider_cannot_touch_another_merchants_member(trio, member):
    charlie = trio.login(trio.charlie)
    assert charlie.post(f"/loyalty/members/{member.pk}/activate/").status_code == 404
    assert charlie.post(f"/loyalty/members/{member.pk}/points/", {"amount": "5"}).status_code == 404
    assert charlie.get(f"/loyalty/members/{member.pk}/").status_code == 404
    member.refresh_from_db()
    assert member.status == MemberStatus.NOT_ACTIVATED


def test_times_on_staff_pages_are_the_shops_local_times(trio, member):
    """23:30 in UTC is 06:30 the next morning in Ho Chi Minh City."""
    import datetime

    from patron.loyalty.models import LedgerEntry

    trio.merchant.timezone = "Asia/Ho_Chi_Minh"
    trio.merchant.save()
    client = trio.login(trio.alice)
    client.post(f"/loyalty/members/{member.pk}/activate/", {"reason": "Asked at the till"})
    client.post(f"/loyalty/members/{member.pk}/points/", {"amount": "30"})
    with scope(merchant=trio.merchant):
        LedgerEntry.objects.filter(member=member).update(
            created_at=datetime.datetime(2026, 3, 1, 23, 30, tzinfo=datetime.UTC)
        )

    page = client.get(f"/contacts/{member.contact_id}/points/").content.decode()

    assert "03/02/2026 6:30 a.m." in page
    assert "03/01/2026" not in page
