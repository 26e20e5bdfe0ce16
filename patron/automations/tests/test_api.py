"""The automations API: workflows, publish / pause, enrollments and their stages."""

import datetime

from django_scopes import scope

from patron.automations import engine
from patron.automations.models import Workflow
from patron.automations.tests.factories import make_workflow
from patron.factories import ContactFactory

NOTE_STEPS = [{"action_type": "add_note", "config": {"text": "Hi {first_name}"}}]


def test_create_publish_and_list_workflows(trio):
    response = trio.api.post("/workflows", {"name": "Say hi", "steps": NOTE_STEPS})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert body["health"] == "yellow"
    assert body["steps"][0]["name"] == "Add a note"
    published = trio.api.post(f"/workflows/{body['id']}/publish")
    assert published.json()["health"] == "green"
    listed = trio.api.get("/workflows").json()
    assert [w["name"] for w in listed["items"]] == ["Say hi"]
    paused = trio.api.post(f"/workflows/{body['id']}/pause")
    assert paused.json()["status"] == "paused"
    assert paused.json()["health"] == "red"


def test_publishing_a_workflow_with_warnings_is_refused(trio):
    body = trio.api.post(
        "/workflows", {"name": "Empty SMS", "steps": [{"action_type": "send_sms"}]}
    ).json()
    assert body["warnings"]
    response = trio.api.post(f"/workflows/{body['id']}/publish")
    assert response.status_code == 422
    assert response.json()["code"] == "workflow_has_warnings"


def test_enroll_contacts_and_read_the_stages(trio):
    contact = ContactFactory(merchant=trio.merchant)
    workflow = make_workflow(trio.merchant, [("add_note", {"text": "Hi"})])
    response = trio.api.post(
        f"/workflows/{workflow.pk}/enrollments",
        {"contact_ids": [str(contact.pk)], "action_name": "Add to loyalty program LP"},
    )
    assert response.status_code == 201, response.content
    (enrollment,) = response.json()["items"]
    assert enrollment["action_name"] == "Add to loyalty program LP"
    assert enrollment["steps"][0]["status"] == "pending"
    engine.run_due_steps(worker="api-test")
    read = trio.api.get(f"/enrollments/{enrollment['id']}").json()
    assert read["status"] == "completed"
    assert read["steps"] == [
        {
            "name": "Add a note",
            "status": "succeeded",
            "at": read["steps"][0]["at"],
            "attempts": 1,
            "error": "",
        }
    ]


def test_a_red_workflow_refuses_contacts(trio):
    contact = ContactFactory(merchant=trio.merchant)
    workflow = make_workflow(trio.merchant, [("add_note", {"text": "Hi"})])
    trio.api.post(f"/workflows/{workflow.pk}/pause")
    response = trio.api.post(
        f"/workflows/{workflow.pk}/enrollments", {"contact_ids": [str(contact.pk)]}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "workflow_red"


def test_a_scheduled_enrollment_waits_for_its_time(trio):
    contact = ContactFactory(merchant=trio.merchant)
    workflow = make_workflow(trio.merchant, [("add_note", {"text": "Hi"})])
    response = trio.api.post(
        f"/workflows/{workflow.pk}/enrollments",
        {"contact_ids": [str(contact.pk)], "scheduled_at": "2099-01-01T09:00:00"},
    )
    (enrollment,) = response.json()["items"]
    assert enrollment["status"] == "scheduled"
    # Without an offset the time is the merchant's (Asia/Ho_Chi_Minh, UTC+7).
    assert datetime.datetime.fromisoformat(enrollment["scheduled_at"]) == datetime.datetime(
        2099, 1, 1, 2, tzinfo=datetime.UTC
    )
    assert engine.run_due_steps(worker="api-test") == 0


def test_outsiders_see_no_workflows_or_enrollments(trio):
    contact = ContactFactory(merchant=trio.merchant)
    workflow = make_workflow(trio.merchant, [("add_note", {"text": "Hi"})])
    made = trio.api.post(
        f"/workflows/{workflow.pk}/enrollments", {"contact_ids": [str(contact.pk)]}
    ).json()["items"][0]
    assert trio.outsider_api.get("/workflows").json()["items"] == []
    assert trio.outsider_api.get(f"/workflows/{workflow.pk}").status_code == 404
    assert trio.outsider_api.post(f"/workflows/{workflow.pk}/pause").status_code == 404
    assert trio.outsider_api.get(f"/enrollments/{made['id']}").status_code == 404
    # Nor can they add A's contact to their own workflow.
    theirs = make_workflow(trio.other_merchant, [("add_note", {"text": "Hi"})])
    response = trio.outsider_api.post(
        f"/workflows/{theirs.pk}/enrollments", {"contact_ids": [str(contact.pk)]}
    )
    assert response.status_code == 404
    with scope(merchant=trio.merchant):
        assert Workflow.objects.get(pk=workflow.pk).status == "published"
