"""Staff pages: the automations list, the step editor, enrollments, Trigger Automation."""

from django_scopes import scope

from patron.automations import engine
from patron.automations.models import Enrollment, EnrollmentStatus, WorkflowStep
from patron.automations.tests.factories import make_workflow
from patron.factories import ContactFactory
from patron.messaging.models import MessageTemplate


def test_the_list_shows_health_with_an_emoji_and_a_word(trio):
    make_workflow(trio.merchant, [("add_note", {"text": "Hi"})], name="Green one")
    make_workflow(trio.merchant, [("add_note", {"text": "Hi"})], name="Draft one", publish=False)
    page = trio.login(trio.alice).get("/automations/").content.decode()
    assert "🟢" in page and "Green" in page
    assert "🟡" in page and "Yellow" in page


def test_a_manager_builds_a_workflow_step_by_step(trio):
    client = trio.login(trio.alice)
    response = client.post("/automations/new/", {"name": "Welcome", "trigger_type": "manual"})
    workflow_id = int(response["Location"].rstrip("/").split("/")[-1])
    client.post(f"/automations/{workflow_id}/steps/", {"action_type": "send_sms"})
    client.post(f"/automations/{workflow_id}/steps/", {"action_type": "add_tag"})
    page = client.get(f"/automations/{workflow_id}/").content.decode()
    assert "The message is missing" in page
    refused = client.post(f"/automations/{workflow_id}/publish/", follow=True).content.decode()
    assert "Fix the workflow" in refused or "missing" in refused
    with scope(merchant=trio.merchant):
        sms, tag = WorkflowStep.objects.filter(workflow_id=workflow_id).order_by("position")
    client.post(f"/automations/{workflow_id}/steps/{sms.pk}/save/", {"body": "Hi {first_name}"})
    client.post(f"/automations/{workflow_id}/steps/{tag.pk}/save/", {"tag": "Welcomed"})
    client.post(f"/automations/{workflow_id}/steps/{tag.pk}/up/")
    with scope(merchant=trio.merchant):
        order = list(
            WorkflowStep.objects.filter(workflow_id=workflow_id)
            .order_by("position")
            .values_list("action_type", flat=True)
        )
    assert order == ["add_tag", "send_sms"]
    client.post(f"/automations/{workflow_id}/publish/")
    page = client.get(f"/automations/{workflow_id}/").content.decode()
    assert "🟢" in page
    client.post(f"/automations/{workflow_id}/steps/{sms.pk}/remove/")
    with scope(merchant=trio.merchant):
        assert WorkflowStep.objects.filter(workflow_id=workflow_id).count() == 1


def test_a_send_step_picks_one_of_the_merchants_templates_of_its_channel(trio):
    with scope(merchant=trio.merchant):
        MessageTemplate.objects.create(
            merchant=trio.merchant, key="thanks", channel="sms", name="Thank you", body="Thanks!"
        )
        MessageTemplate.objects.create(
            merchant=trio.merchant, key="newsletter", channel="email", body="News"
        )
    workflow = make_workflow(trio.merchant, [("send_sms", {"body": "Hi"})], publish=False)
    with scope(merchant=trio.merchant):
        sms = WorkflowStep.objects.get(workflow=workflow)
    client = trio.login(trio.alice)
    page = client.get(f"/automations/{workflow.pk}/").content.decode()
    assert '<option value="thanks" >Thank you (thanks)</option>' in page
    assert 'value="newsletter"' not in page  # an email template is no choice for an SMS
    client.post(
        f"/automations/{workflow.pk}/steps/{sms.pk}/save/", {"body": "", "template_key": "thanks"}
    )
    with scope(merchant=trio.merchant):
        sms.refresh_from_db()
        assert sms.config["template_key"] == "thanks"
        MessageTemplate.objects.filter(key="thanks").delete()
    page = client.get(f"/automations/{workflow.pk}/").content.decode()
    # A deleted template stays selected, named as missing, with the step's warning.
    assert '<option value="thanks" selected>thanks (missing)</option>' in page
    assert "There is no message template" in page


def test_staff_role_cannot_change_workflows(trio):
    workflow = make_workflow(trio.merchant, [("add_note", {"text": "Hi"})])
    response = trio.login(trio.bob).post(f"/automations/{workflow.pk}/pause/")
    assert response.status_code == 403


def test_trigger_automation_adds_selected_contacts(trio):
    mark = ContactFactory(merchant=trio.merchant, first_name="Mark")
    workflow = make_workflow(trio.merchant, [("add_note", {"text": "Hi"})], name="Add note")
    client = trio.login(trio.bob)
    response = client.post(
        "/automations/trigger/",
        {"contact": [mark.pk], "workflow": workflow.pk, "action_name": "LP", "when": "now"},
    )
    assert response.status_code == 200
    assert "1 contact added" in response.content.decode()
    with scope(merchant=trio.merchant):
        enrollment = Enrollment.objects.get(contact=mark)
    assert enrollment.action_name == "LP"


def test_trigger_automation_refuses_red_and_asks_to_confirm_yellow(trio):
    mark = ContactFactory(merchant=trio.merchant)
    red = make_workflow(trio.merchant, [("add_note", {"text": "Hi"})], name="Red")
    client = trio.login(trio.alice)
    client.post(f"/automations/{red.pk}/pause/")
    refused = client.post("/automations/trigger/", {"contact": [mark.pk], "workflow": red.pk})
    assert refused.status_code == 422
    assert "cannot be added" in refused.content.decode()
    yellow = make_workflow(trio.merchant, [("add_note", {"text": "Hi"})], publish=False)
    asked = client.post("/automations/trigger/", {"contact": [mark.pk], "workflow": yellow.pk})
    assert asked.status_code == 422
    assert "confirm_yellow" in asked.content.decode()
    confirmed = client.post(
        "/automations/trigger/",
        {"contact": [mark.pk], "workflow": yellow.pk, "confirm_yellow": "yes"},
    )
    assert confirmed.status_code == 200
    with scope(merchant=trio.merchant):
        assert Enrollment.objects.filter(contact=mark, workflow=yellow).count() == 1
        assert not Enrollment.objects.filter(workflow=red).exists()


def test_the_picker_searches_by_name(trio):
    make_workflow(trio.merchant, [("add_note", {"text": "Hi"})], name="Add to the loyalty program")
    make_workflow(trio.merchant, [("add_note", {"text": "Hi"})], name="Birthday coupon")
    page = trio.login(trio.bob).get("/automations/picker/", {"q": "add"}).content.decode()
    assert "Add to the loyalty program" in page
    assert "Birthday coupon" not in page


def test_enrollment_detail_shows_history_and_can_be_cancelled(trio):
    contact = ContactFactory(merchant=trio.merchant)
    workflow = make_workflow(
        trio.merchant,
        [("add_note", {"text": "Hi"}), ("wait", {"mode": "duration", "amount": 1, "unit": "days"})],
    )
    client = trio.login(trio.bob)
    client.post("/automations/trigger/", {"contact": [contact.pk], "workflow": workflow.pk})
    engine.run_due_steps(worker="views")
    with scope(merchant=trio.merchant):
        enrollment = Enrollment.objects.get(contact=contact)
    page = client.get(f"/automations/enrollments/{enrollment.pk}/").content.decode()
    assert "Add a note" in page and "Wait 1 days" in page
    client.post(f"/automations/enrollments/{enrollment.pk}/cancel/")
    with scope(merchant=trio.merchant):
        enrollment.refresh_from_db()
    assert enrollment.status == EnrollmentStatus.CANCELLED


def test_outsiders_cannot_open_or_use_another_merchants_workflows(trio):
    contact = ContactFactory(merchant=trio.merchant)
    workflow = make_workflow(trio.merchant, [("add_note", {"text": "Hi"})])
    charlie = trio.login(trio.charlie)
    assert charlie.get(f"/automations/{workflow.pk}/").status_code == 404
    assert charlie.post(f"/automations/{workflow.pk}/pause/").status_code == 404
    response = charlie.post(
        "/automations/trigger/", {"contact": [contact.pk], "workflow": workflow.pk}
    )
    assert response.status_code == 422
    with scope(merchant=trio.merchant):
        assert not Enrollment.objects.exists()
