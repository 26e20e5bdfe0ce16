import pytest
from django_scopes import scope

from patron.automations.models import TriggerType, Workflow, WorkflowStatus
from patron.lib.sql import any_row


def test_any_row_matches_fields_values_and_lists(trio):
    with scope(merchant=trio.merchant):
        Workflow.objects.create(
            merchant=trio.merchant,
            name="Welcome",
            status=WorkflowStatus.PUBLISHED,
            trigger_type=TriggerType.POINTS_EARNED,
        )
    published = {"merchant": trio.merchant, "status": WorkflowStatus.PUBLISHED}
    assert any_row(Workflow, published)
    assert any_row(Workflow, {**published, "trigger_type": ["contact_created", "points_earned"]})
    assert not any_row(Workflow, {**published, "trigger_type": ["contact_created"]})
    assert not any_row(Workflow, {**published, "trigger_type": []})
    # Another merchant's workflow is not this one's; a choice is compared by its value.
    assert not any_row(Workflow, {**published, "merchant": trio.other_merchant.pk})
    assert not any_row(Workflow, {"merchant": trio.merchant, "status": WorkflowStatus.DRAFT})


def test_any_row_refuses_a_merchants_table_without_the_merchant(trio):
    with pytest.raises(ValueError, match="needs the merchant"):
        any_row(Workflow, {"status": WorkflowStatus.PUBLISHED})
