"""Workflows, their steps, enrollments of contacts, and the engine's table of step runs.

A workflow is a trigger and ordered steps. Each contact that enters a workflow gets an
`Enrollment`; each step the enrollment reaches becomes one `StepRun` row with the time
it is due. Workers claim due rows with a lease, so a worker that dies mid-step leaves a
row that another worker picks up once the lease runs out. The unique idempotency key of
a run (enrollment + step) is what the services it calls use to act exactly once.
"""

import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patron.contacts.models import Contact
from patron.lib.actors import ActorFields
from patron.lib.scoping import merchant_scoped_manager
from patron.tenants.models import Merchant

# A failure this recent keeps a published workflow red until it is published again.
RECENT_FAILURE_DAYS = 7


class TriggerType(models.TextChoices):
    MANUAL = "manual", _("Manual (Trigger Automation)")
    CONTACT_CREATED = "contact_created", _("Contact created")
    TAG_ADDED = "tag_added", _("Tag added")
    TAG_REMOVED = "tag_removed", _("Tag removed")
    MEMBER_ACTIVATED = "member_activated", _("Member activated")
    MEMBER_EXCLUDED = "member_excluded", _("Member excluded")
    POINTS_EARNED = "points_earned", _("Points earned")
    BALANCE_REACHED = "balance_reached", _("Points balance reached")
    TIER_CHANGED = "tier_changed", _("Tier changed")
    BIRTHDAY = "birthday", _("Birthday")
    ORDER_PLACED = "order_placed", _("Order placed")
    COUPON_USED = "coupon_used", _("Coupon used")
    COUPON_EXPIRING = "coupon_expiring", _("Coupon expiring")
    POINTS_EXPIRING = "points_expiring", _("Points expiring")
    NO_VISIT = "no_visit", _("No visit for N days")


class WorkflowStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    PAUSED = "paused", _("Paused")


class Health(models.TextChoices):
    GREEN = "green", _("Green")
    YELLOW = "yellow", _("Yellow")
    RED = "red", _("Red")


class ReEntry(models.TextChoices):
    ONCE = "once", _("Only once per contact")
    AFTER_EXIT = "after_exit", _("Again after the previous run ended")
    ALWAYS = "always", _("Every time, even while running")


class Workflow(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True, default="")
    trigger_type = models.CharField(
        max_length=32, choices=TriggerType.choices, default=TriggerType.MANUAL
    )
    trigger_config = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=WorkflowStatus.choices, default=WorkflowStatus.DRAFT
    )
    reentry = models.CharField(max_length=16, choices=ReEntry.choices, default=ReEntry.AFTER_EXIT)
    # Which built-in template this workflow came from ("" for workflows staff made).
    template_key = models.CharField(max_length=64, blank=True, default="")
    published_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects: "models.Manager[Workflow]" = merchant_scoped_manager()

    class Meta:
        indexes = [models.Index(fields=["merchant", "trigger_type", "status"], name="wf_trigger")]

    def __str__(self) -> str:
        return self.name

    @property
    def has_recent_failure(self) -> bool:
        if self.last_failure_at is None:
            return False
        since = timezone.now() - datetime.timedelta(days=RECENT_FAILURE_DAYS)
        if self.published_at and self.published_at > since:
            since = self.published_at
        return self.last_failure_at >= since


class StepKind(models.TextChoices):
    ACTION = "action", _("Action")
    WAIT = "wait", _("Wait")
    IF_ELSE = "if_else", _("If / else")


class WorkflowStep(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices, default=StepKind.ACTION)
    action_type = models.CharField(max_length=32)
    config = models.JSONField(default=dict, blank=True)

    objects: "models.Manager[WorkflowStep]" = merchant_scoped_manager()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.position}. {self.action_type}"


class EnrollmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ENDED_STATUSES = [
    EnrollmentStatus.COMPLETED,
    EnrollmentStatus.FAILED,
    EnrollmentStatus.CANCELLED,
]


class Enrollment(ActorFields):
    """One contact's run through a workflow; the actor is who added the contact."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="enrollments")
    status = models.CharField(
        max_length=16, choices=EnrollmentStatus.choices, default=EnrollmentStatus.ACTIVE
    )
    action_name = models.CharField(max_length=200, blank=True, default="")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    current_step = models.ForeignKey(
        WorkflowStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What set it off (an event, a date) and what earlier steps made (a coupon code):
    # later steps read it for merge fields and conditions.
    context = models.JSONField(default=dict, blank=True)
    # For date triggers: one enrollment per contact and occasion ("birthday:2026").
    trigger_key = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects: "models.Manager[Enrollment]" = merchant_scoped_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workflow", "contact", "trigger_key"],
                condition=~Q(trigger_key=""),
                name="enrollment_once_per_occasion",
            )
        ]
        indexes = [
            models.Index(fields=["workflow", "contact", "status"], name="enrollment_reentry"),
            models.Index(fields=["merchant", "contact", "-created_at"], name="enrollment_contact"),
        ]

    def __str__(self) -> str:
        return f"{self.workflow_id}/{self.contact_id} ({self.status})"


class RunStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Done")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class StepRun(models.Model):
    """One step of one enrollment, as the engine sees it: when due, who holds it, how it went."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+")
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="runs")
    step = models.ForeignKey(
        WorkflowStep, null=True, on_delete=models.SET_NULL, related_name="runs"
    )
    # Kept on the run, so the history still reads right after the step is edited away.
    name = models.CharField(max_length=300)
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    due_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    lease_owner = models.CharField(max_length=100, blank=True, default="")
    lease_until = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True, default="")
    idempotency_key = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects: "models.Manager[StepRun]" = merchant_scoped_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="steprun_due"),
            models.Index(fields=["status", "lease_until"], name="steprun_lease"),
        ]

    def __str__(self) -> str:
        return f"{self.idempotency_key} ({self.status})"
