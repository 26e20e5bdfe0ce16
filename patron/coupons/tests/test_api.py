from decimal import Decimal

import pytest
from django_scopes import scopes_disabled

from patron.contacts.models import ActivityEvent
from patron.coupons.models import Coupon, CouponEvent
from patron.coupons.tests.factories import issue_coupon, make_contact

pytestmark = pytest.mark.django_db


def coupon_count() -> int:
    with scopes_disabled():
        return Coupon.objects.count()


def use_count() -> int:
    with scopes_disabled():
        return CouponEvent.objects.filter(type="used").count()


@pytest.fixture
def mark(trio):
    return make_contact(trio.merchant, first_name="Mark")


ISSUE = {"label": "Birthday Coupon", "type": "percentage", "value": "10"}


def test_staff_api_issues_a_coupon_and_lists_it_on_the_contact(trio, mark):
    made = trio.api.post(f"/contacts/{mark.pk}/coupons", {**ISSUE, "prefix": "BDAY"})
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["code"].startswith("BDAY")
    assert (body["status"], body["usage_limit"], body["usage_count"]) == ("available", 1, 0)
    assert body["contact_id"] == str(mark.pk)
    assert Decimal(body["value"]) == Decimal("10")
    listed = trio.api.get(f"/contacts/{mark.pk}/coupons").json()
    assert [c["id"] for c in listed["items"]] == [body["id"]]
    assert trio.api.get(f"/contacts/{mark.pk}").json()["tags"] == ["Birthday Coupon"]


def test_an_issue_retry_with_the_same_idempotency_key_answers_the_same_and_writes_once(trio, mark):
    headers = {"Idempotency-Key": "issue-1"}
    first = trio.api.post(f"/contacts/{mark.pk}/coupons", ISSUE, headers=headers)
    again = trio.api.post(f"/contacts/{mark.pk}/coupons", ISSUE, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert coupon_count() == 1


def test_a_redeem_retry_with_the_same_idempotency_key_answers_the_same_and_uses_once(trio, mark):
    coupon = issue_coupon(trio.merchant, mark, usage_limit=3)
    headers = {"Idempotency-Key": "use-1"}
    body = {"order_reference": "#1001"}
    first = trio.api.post(f"/coupons/{coupon.pk}/redeem", body, headers=headers)
    again = trio.api.post(f"/coupons/{coupon.pk}/redeem", body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["usage_count"] == 1
    assert use_count() == 1


def test_invalid_terms_answer_422_with_the_field(trio, mark):
    bad = trio.api.post(f"/contacts/{mark.pk}/coupons", {**ISSUE, "value": "120"})
    assert bad.status_code == 422
    assert bad.json()["field"] == "value"
    assert coupon_count() == 0


def test_redeeming_a_used_single_use_code_is_refused_with_a_stable_code(trio, mark):
    coupon = issue_coupon(trio.merchant, mark)
    assert (
        trio.api.post(f"/coupons/{coupon.pk}/redeem", {"order_reference": "#1"}).status_code == 200
    )
    again = trio.api.post(f"/coupons/{coupon.pk}/redeem", {"order_reference": "#2"})
    assert again.status_code == 409
    assert again.json()["code"] == "coupon_usage_limit_reached"
    assert again["Content-Type"].startswith("application/problem+json")


def test_rollback_returns_the_use_through_the_api(trio, mark):
    coupon = issue_coupon(trio.merchant, mark)
    trio.api.post(f"/coupons/{coupon.pk}/redeem", {"order_reference": "#7"})
    back = trio.api.post(f"/coupons/{coupon.pk}/rollback", {"order_reference": "#7"})
    assert back.status_code == 200
    assert (back.json()["status"], back.json()["usage_count"]) == ("available", 0)
    again = trio.api.post(f"/coupons/{coupon.pk}/rollback", {"order_reference": "#7"})
    assert (again.status_code, again.json()["code"]) == (409, "coupon_not_used")


def test_delete_with_a_reason_shows_who_and_why(trio, mark):
    coupon = issue_coupon(trio.merchant, mark)
    gone = trio.api.delete(f"/coupons/{coupon.pk}", {"reason": "Wrong value"})
    assert gone.status_code == 200
    body = gone.json()
    assert (body["status"], body["delete_reason"]) == ("deleted", "Wrong value")
    assert body["deleted_by"].startswith("API key")
    assert body["deleted_at"]
    assert trio.api.get(f"/contacts/{mark.pk}").json()["tags"] == []


def test_regenerate_answers_the_new_coupon_and_deletes_the_old(trio, mark):
    coupon = issue_coupon(trio.merchant, mark, value="25", type="fixed_amount")
    new = trio.api.post(f"/coupons/{coupon.pk}/regenerate")
    assert new.status_code == 201
    body = new.json()
    assert body["code"] != coupon.code
    assert (body["type"], Decimal(body["value"]), body["status"]) == (
        "fixed_amount",
        Decimal("25"),
        "available",
    )
    assert body["regenerated_from_id"] == str(coupon.pk)
    assert trio.api.get(f"/coupons/{coupon.pk}").json()["status"] == "deleted"


def test_validate_explains_why_a_code_fails(trio, mark):
    coupon = issue_coupon(trio.merchant, mark, minimum_order="100")
    low = trio.api.post("/coupons/validate", {"code": coupon.code.lower(), "order_total": "50"})
    assert low.status_code == 200
    assert (low.json()["valid"], low.json()["reason"]) == (False, "below_minimum")
    ok = trio.api.post("/coupons/validate", {"code": coupon.code, "order_total": "200"}).json()
    assert (ok["valid"], Decimal(ok["discount"])) == (True, Decimal("20.00"))
    unknown = trio.api.post("/coupons/validate", {"code": "NOPE2345"}).json()
    assert (unknown["valid"], unknown["reason"], unknown["coupon"]) == (False, "not_found", None)


def test_event_data_lists_the_whole_history_as_json(trio, mark):
    coupon = issue_coupon(trio.merchant, mark)
    trio.api.post(f"/coupons/{coupon.pk}/redeem", {"order_reference": "#9"})
    trio.api.post(f"/coupons/{coupon.pk}/rollback")
    trio.api.delete(f"/coupons/{coupon.pk}", {"reason": "Customer asked"})
    items = trio.api.get(f"/coupons/{coupon.pk}/events").json()["items"]
    assert [e["type"] for e in items] == ["issued", "used", "rolled_back", "deleted"]
    assert items[1]["data"]["order_reference"] == "#9"
    assert items[3]["data"]["reason"] == "Customer asked"
    assert items[3]["actor"]["kind"] == "api_key"


# Outsiders: merchant B's key sees none of merchant A's coupons or contacts.


def test_outsider_cannot_list_or_issue_coupons_for_another_merchants_contact(trio, mark):
    assert trio.outsider_api.get(f"/contacts/{mark.pk}/coupons").status_code == 404
    made = trio.outsider_api.post(f"/contacts/{mark.pk}/coupons", ISSUE)
    assert made.status_code == 404
    assert coupon_count() == 0


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("delete", "", {"reason": "mine now"}),
        ("post", "/regenerate", {}),
        ("post", "/redeem", {"order_reference": "#1"}),
        ("post", "/rollback", {}),
        ("get", "/events", None),
    ],
)
def test_outsider_gets_404_for_every_coupon_operation(trio, mark, method, suffix, body):
    coupon = issue_coupon(trio.merchant, mark)
    client = trio.outsider_api
    path = f"/coupons/{coupon.pk}{suffix}"
    answer = client.get(path) if method == "get" else getattr(client, method)(path, body)
    assert answer.status_code == 404
    with scopes_disabled():
        coupon.refresh_from_db()
    assert (coupon.status, coupon.usage_count) == ("available", 0)


def test_outsider_validating_another_merchants_code_finds_nothing(trio, mark):
    coupon = issue_coupon(trio.merchant, mark)
    answer = trio.outsider_api.post("/coupons/validate", {"code": coupon.code}).json()
    assert (answer["valid"], answer["reason"], answer["coupon"]) == (False, "not_found", None)


def test_the_same_code_may_exist_at_two_merchants(trio, mark):
    issue_coupon(trio.merchant, mark, code="SUMMER26")
    theirs = issue_coupon(trio.other_merchant, code="SUMMER26")
    assert theirs.code == "SUMMER26"
    again = trio.api.post(f"/contacts/{mark.pk}/coupons", {**ISSUE, "code": "summer26"})
    assert (again.status_code, again.json()["code"]) == (409, "coupon_code_taken")


def test_without_a_key_the_api_refuses(trio, mark):
    coupon = issue_coupon(trio.merchant, mark)
    from django.test import Client

    assert Client().get(f"/api/v1/coupons/{coupon.pk}").status_code == 401


# ---------------------------------------------------------------------------------------
# Bulk issue

BULK = {"count": 25, "label": "Summer Campaign", "type": "fixed_amount", "value": "20000"}


def activity_types(contact) -> list[str]:
    with scopes_disabled():
        return list(ActivityEvent.objects.filter(contact=contact).values_list("type", flat=True))


def test_staff_api_issues_coupons_in_bulk_to_a_contact(trio, mark):
    made = trio.api.post(f"/contacts/{mark.pk}/coupons/bulk", {**BULK, "prefix": "sum-"})
    assert made.status_code == 201, made.json()
    body = made.json()
    assert (body["count"], body["label"], body["redrawn"]) == (25, "Summer Campaign", 0)
    assert body["reference"].startswith("bulk:")
    with scopes_disabled():
        coupons = list(Coupon.objects.filter(reference=body["reference"]))
    assert len(coupons) == len({c.code for c in coupons}) == 25
    assert {(c.contact_id, c.status, c.value) for c in coupons} == {
        (mark.pk, "available", Decimal("20000.00"))
    }
    assert all(c.code.startswith("SUM-") for c in coupons)
    assert activity_types(mark).count("coupon_bulk_issued") == 1
    assert trio.api.get(f"/contacts/{mark.pk}").json()["tags"] == ["Summer Campaign"]


def test_a_bulk_issue_keeps_the_reference_it_is_given(trio, mark):
    made = trio.api.post(f"/contacts/{mark.pk}/coupons/bulk", {**BULK, "reference": "june-flyer"})
    assert made.status_code == 201, made.json()
    assert made.json()["reference"] == "june-flyer"
    with scopes_disabled():
        assert Coupon.objects.filter(reference="june-flyer").count() == 25


def test_a_bulk_issue_retry_with_the_same_idempotency_key_issues_one_batch(trio, mark):
    headers = {"Idempotency-Key": "bulk-1"}
    first = trio.api.post(f"/contacts/{mark.pk}/coupons/bulk", BULK, headers=headers)
    again = trio.api.post(f"/contacts/{mark.pk}/coupons/bulk", BULK, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert coupon_count() == 25
    assert activity_types(mark).count("coupon_bulk_issued") == 1

    fewer = {**BULK, "count": 5}
    other = trio.api.post(f"/contacts/{mark.pk}/coupons/bulk", fewer, headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert coupon_count() == 25


def test_outsider_cannot_bulk_issue_to_another_merchants_contact(trio, mark):
    refused = trio.outsider_api.post(f"/contacts/{mark.pk}/coupons/bulk", BULK)
    assert refused.status_code == 404
    assert refused.json()["code"] == "contact_not_found"
    unknown = trio.api.post("/contacts/999999/coupons/bulk", BULK)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "contact_not_found"
    assert coupon_count() == 0
    assert "coupon_bulk_issued" not in activity_types(mark)


@pytest.mark.parametrize("count", [0, -3, 1_000_001, "many"])
def test_a_bulk_count_outside_1_to_a_million_is_refused_by_the_schema(trio, mark, count):
    bad = trio.api.post(f"/contacts/{mark.pk}/coupons/bulk", {**BULK, "count": count})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_request"
    assert [e["field"] for e in bad.json()["errors"]] == ["payload.count"]
    assert coupon_count() == 0


@pytest.mark.parametrize(
    ("terms", "code", "field"),
    [
        ({"type": "percentage", "value": "120"}, "invalid_input", "value"),
        ({"type": "fixed_amount", "value": "0"}, "invalid_input", "value"),
        ({"prefix": "no spaces"}, "invalid_coupon_prefix", "prefix"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "invalid_input", "expires_at"),
        ({"applies_to": {"kind": "products"}}, "invalid_input", "applies_to"),
        ({"type": "half_off"}, "invalid_request", None),
    ],
)
def test_bad_bulk_terms_answer_422_with_a_stable_code_and_write_nothing(
    trio, mark, terms, code, field
):
    bad = trio.api.post(f"/contacts/{mark.pk}/coupons/bulk", {**BULK, **terms})
    assert bad.status_code == 422, bad.json()
    assert bad.json()["code"] == code
    if field:
        assert bad.json()["field"] == field
    assert coupon_count() == 0
    assert activity_types(mark) == []


def test_the_bulk_operation_is_documented_with_its_limits_and_the_shopify_caveat(trio):
    spec = trio.api.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/contacts/{contact_id}/coupons/bulk"]["post"]
    assert "not pushed to Shopify" in operation["description"]
    assert {"201", "404", "422"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    count = spec["components"]["schemas"][body.rsplit("/", 1)[-1]]["properties"]["count"]
    assert (count["minimum"], count["maximum"]) == (1, 1_000_000)
