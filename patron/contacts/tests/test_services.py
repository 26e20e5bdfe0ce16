import pytest
from django_scopes import ScopeError, scope

from patron.contacts import selectors, services
from patron.contacts.models import ActivityEvent, Contact
from patron.contacts.services import EmptyContact, PhoneTaken
from patron.lib.errors import InvalidInput
from patron.lib.phones import InvalidPhone

pytestmark = pytest.mark.django_db


def make(trio, **fields):
    return services.contact_create(merchant=trio.merchant, actor=trio.actor, **fields)


def test_phone_is_stored_in_e164_with_the_merchants_country(trio, in_merchant):
    contact = make(trio, first_name="Mark", phone="0980.000.000")
    assert str(contact.phone) == "+84980000000"


def test_two_live_contacts_cannot_share_a_phone(trio, in_merchant):
    make(trio, first_name="Mark", phone="0980000000")
    with pytest.raises(PhoneTaken):
        make(trio, first_name="Other", phone="+84 980 000 000")
    assert Contact.objects.filter(merchant=trio.merchant).count() == 1


def test_a_deleted_contact_frees_its_phone(trio, in_merchant):
    first = make(trio, first_name="Mark", phone="0980000000")
    services.contact_delete(merchant=trio.merchant, contact=first, actor=trio.actor, reason="dup")
    second = make(trio, first_name="Mark", phone="0980000000")
    assert second.pk != first.pk


def test_another_merchant_may_have_the_same_phone(trio):
    with scope(merchant=trio.merchant):
        make(trio, first_name="Mark", phone="0980000000")
    with scope(merchant=trio.other_merchant):
        services.contact_create(
            merchant=trio.other_merchant, actor=trio.actor, first_name="M", phone="0980000000"
        )


def test_contact_without_name_phone_or_email_is_refused(trio, in_merchant):
    with pytest.raises(EmptyContact):
        make(trio)


def test_bad_phone_writes_nothing(trio, in_merchant):
    with pytest.raises(InvalidPhone):
        make(trio, first_name="X", phone="not a phone")
    assert not Contact.objects.filter(merchant=trio.merchant).exists()
    assert not ActivityEvent.objects.filter(merchant=trio.merchant).exists()


@pytest.mark.parametrize(
    "query",
    ["0980.000.000", "+84980000000", "84 980 000 000", "000 000", "mark", "NGUYEN", "mark@ex"],
)
def test_search_finds_by_any_phone_format_name_or_email(trio, in_merchant, query):
    mark = make(
        trio, first_name="Mark", last_name="Nguyễn", phone="0980000000", email="mark@ex.com"
    )
    make(trio, first_name="Lan", phone="0912345678")
    found = list(selectors.contact_search(trio.merchant, query))
    assert found == [mark]


def test_search_by_contact_id(trio, in_merchant):
    mark = make(trio, first_name="Mark")
    assert list(selectors.contact_search(trio.merchant, str(mark.pk))) == [mark]


def test_update_records_what_changed(trio, in_merchant):
    mark = make(trio, first_name="Mark", phone="0980000000")
    services.contact_update(
        merchant=trio.merchant, contact=mark, actor=trio.actor, first_name="Marc"
    )
    event = selectors.activity(trio.merchant, mark).first()
    assert event.type == "contact_updated"
    assert event.data["changes"]["first_name"] == {"from": "Mark", "to": "Marc"}


def test_note_is_in_the_activity_with_its_author(trio, in_merchant):
    mark = make(trio, first_name="Mark")
    services.note_add(
        merchant=trio.merchant, contact=mark, text="Called about coupon", actor=trio.actor
    )
    event = selectors.activity(trio.merchant, mark).first()
    assert (event.type, event.data["text"], event.actor_label) == (
        "note_added",
        "Called about coupon",
        "alice@example.com",
    )


def test_empty_note_is_refused(trio, in_merchant):
    mark = make(trio, first_name="Mark")
    with pytest.raises(InvalidInput):
        services.note_add(merchant=trio.merchant, contact=mark, text="  ", actor=trio.actor)


def test_a_query_without_a_merchant_scope_fails_loudly(trio):
    with pytest.raises(ScopeError):
        list(Contact.objects.all())


def test_a_scope_hides_other_merchants_rows(trio):
    with scope(merchant=trio.other_merchant):
        services.contact_create(merchant=trio.other_merchant, actor=trio.actor, first_name="B")
    with scope(merchant=trio.merchant):
        assert list(Contact.objects.all()) == []
        assert list(selectors.contact_search(trio.other_merchant, "")) == []
