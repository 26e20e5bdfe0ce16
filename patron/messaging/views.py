"""Staff pages of messaging (Outbox, Notifications, Settings, Send SMS) and the public
unsubscribe page."""

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scope

from patron.contacts import selectors as contact_selectors
from patron.contacts.forms import NoteForm
from patron.contacts.models import Contact
from patron.lib.errors import PatronError
from patron.messaging import merge, selectors, services
from patron.messaging.forms import ChannelSettingsForm, SendSmsForm, TemplateForm
from patron.messaging.models import Channel, MessageStatus, MessageTemplate
from patron.messaging.segments import sms_segments
from patron.tenants.http import StaffRequest
from patron.tenants.models import Merchant, Role
from patron.tenants.permissions import has_role, staff_required

PAGE_SIZE = 50


def _context(request: StaffRequest, tab: str, **extra: Any) -> dict[str, Any]:
    return {
        "section": "messaging",
        "messaging_page": tab,
        "can_manage": has_role(request, Role.MANAGER),
        **extra,
    }


@staff_required()
def outbox(request: StaffRequest) -> HttpResponse:
    messages = selectors.outbox(request.merchant)
    channel = request.GET.get("channel", "")
    status = request.GET.get("status", "")
    if channel in Channel.values:
        messages = messages.filter(channel=channel)
    if status in MessageStatus.values:
        messages = messages.filter(status=status)
    page = Paginator(messages, PAGE_SIZE).get_page(request.GET.get("page"))
    context = _context(
        request,
        "outbox",
        page=page,
        channel=channel,
        status=status,
        channels=Channel.choices,
        statuses=MessageStatus.choices,
    )
    return render(request, "messaging/outbox.html", context)


@staff_required()
def notification_list(request: StaffRequest) -> HttpResponse:
    user = request.user
    unread_ids = set(
        selectors.unread_notifications(request.merchant, user).values_list("pk", flat=True)[:200]
    )
    notifications = list(selectors.notifications(request.merchant)[:100])
    # Opening the list is reading it: what is shown now is marked read for this user.
    services.notifications_mark_read(
        merchant=request.merchant,
        user=user,
        notifications=[n for n in notifications if n.pk in unread_ids],
    )
    context = _context(
        request,
        "notifications",
        notifications=notifications,
        unread_ids=unread_ids,
    )
    return render(request, "messaging/notifications.html", context)


def _activity_context(request: StaffRequest, contact: Contact, **extra: Any) -> dict[str, Any]:
    # The same context the contacts app gives its Activity tab, which this answer replaces.
    return {
        "contact": contact,
        "events": contact_selectors.activity(request.merchant, contact)[:100],
        "note_form": NoteForm(),
        "sms_form": SendSmsForm(),
        **extra,
    }


@staff_required()
@require_POST
def contact_send_sms(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = contact_selectors.contact_get(request.merchant, contact_id)
    if contact is None:
        get_object_or_404(Contact.objects.none())
    assert contact is not None
    form = SendSmsForm(request.POST, codes=selectors.coupon_choices(request.merchant, contact))
    message = ""
    if form.is_valid():
        try:
            services.message_send(
                merchant=request.merchant,
                channel=Channel.SMS,
                actor=request.actor,
                body=form.message(),
                contact=contact,
            )
        except PatronError as error:
            form.add_error("body", error.message)
        else:
            form = SendSmsForm()
            message = _("SMS queued.")
    if not request.htmx:
        return redirect("contacts:profile", contact_id=contact.pk)
    context = _activity_context(request, contact, sms_form=form, message=message)
    status = 422 if form.errors else 200
    return render(request, "contacts/_activity.html", context, status=status)


@staff_required(Role.MANAGER)
def channel_settings(request: StaffRequest) -> HttpResponse:
    channels = selectors.channel_settings(request.merchant)
    form = ChannelSettingsForm(request.POST or None, instance=channels)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.channel_settings_update(
                merchant=request.merchant,
                actor=request.actor,
                sms_provider=data["sms_provider"],
                sms_config=form.config("sms"),
                sms_sender=data["sms_sender"],
                email_provider=data["email_provider"],
                email_config=form.config("email"),
                email_from=data["email_from"],
                quiet_hours_start=data["quiet_hours_start"],
                quiet_hours_end=data["quiet_hours_end"],
            )
        except PatronError as error:
            form.add_error(None, error.message)
        else:
            return redirect("messaging:settings")
    channels = selectors.channel_settings(request.merchant)
    context = _context(
        request,
        "settings",
        form=form,
        channels=channels,
        inbound_url=request.build_absolute_uri("/api/v1/messaging/inbound-sms")
        + (f"?secret={channels.webhook_secret}" if channels.pk else ""),
    )
    return render(request, "messaging/settings.html", context, status=422 if form.errors else 200)


@staff_required(Role.MANAGER)
def template_list(request: StaffRequest) -> HttpResponse:
    context = _context(
        request,
        "templates",
        templates=selectors.templates(request.merchant),
        merge_fields=merge.MERGE_FIELDS.items(),
    )
    return render(request, "messaging/templates.html", context)


def _template(request: StaffRequest, message_template_id: int | None) -> MessageTemplate | None:
    if message_template_id is None:
        return None
    return get_object_or_404(
        MessageTemplate.objects.filter(merchant=request.merchant), pk=message_template_id
    )


@staff_required(Role.MANAGER)
def template_edit(request: StaffRequest, message_template_id: int | None = None) -> HttpResponse:
    template = _template(request, message_template_id)
    initial: dict[str, Any] = {"language": request.merchant.language, "channel": Channel.SMS}
    if template is not None:
        initial = {
            "key": template.key,
            "name": template.name,
            "channel": template.channel,
            "language": template.language,
            "subject": template.subject,
            "body": template.body,
            "marketing": template.marketing,
        }
    form = TemplateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.message_template_save(
                merchant=request.merchant,
                actor=request.actor,
                template=template,
                **form.cleaned_data,
            )
        except PatronError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            return redirect("messaging:templates")
    context = _context(
        request,
        "templates",
        form=form,
        template=template,
        merge_fields=merge.MERGE_FIELDS.items(),
        preview=_preview(request.merchant, form),
    )
    return render(
        request, "messaging/template_edit.html", context, status=422 if form.errors else 200
    )


def _preview(merchant: Merchant, form: TemplateForm) -> dict[str, Any]:
    """The message as a customer would get it: sample values, and for a marketing SMS
    the opt-out line that sending adds (counted in the segments)."""
    data = form.data if form.is_bound else form.initial
    body = str(data.get("body") or "")
    subject = str(data.get("subject") or "")
    values = merge.values_for(merchant, None) | merge.SAMPLE_VALUES
    rendered = merge.render(body, values)
    sms = data.get("channel", Channel.SMS) == Channel.SMS
    marketing = str(data.get("marketing") or "").lower() not in {"", "false", "off", "0"}
    if sms and marketing and rendered.strip():
        language = str(data.get("language") or merchant.language)
        rendered = services.with_sms_opt_out(rendered.strip(), language)
    return {
        "subject": merge.render(subject, values),
        "body": rendered,
        "unknown": merge.unknown_fields(body + " " + subject),
        "sms": sms,
        "characters": len(rendered),
        "segments": sms_segments(rendered) if sms else 0,
    }


@staff_required(Role.MANAGER)
@require_POST
def template_preview(request: StaffRequest) -> HttpResponse:
    form = TemplateForm(request.POST)
    context = {"preview": _preview(request.merchant, form)}
    return render(request, "messaging/_preview.html", context)


@staff_required(Role.MANAGER)
@require_POST
def template_delete(request: StaffRequest, message_template_id: int) -> HttpResponse:
    template = _template(request, message_template_id)
    assert template is not None
    services.message_template_delete(
        merchant=request.merchant, template=template, actor=request.actor
    )
    return redirect("messaging:templates")


def _safe_next(request: HttpRequest, link: str) -> bool:
    return url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()})


@staff_required()
def notification_open(request: StaffRequest, notification_id: int) -> HttpResponse:
    notification = get_object_or_404(selectors.notifications(request.merchant), pk=notification_id)
    services.notifications_mark_read(
        merchant=request.merchant, user=request.user, notifications=[notification]
    )
    if notification.link and _safe_next(request, notification.link):
        return redirect(notification.link)
    return redirect("messaging:notifications")


# The signed token is the authority here, not a session: mail clients POST to it with
# no cookie for one-click unsubscribe (RFC 8058), so CSRF protection does not apply.
@csrf_exempt
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        merchant_id, channel, address = services.read_unsubscribe_token(token)
    except PatronError as error:
        return render(request, "messaging/unsubscribe.html", {"error": error.message}, status=400)
    merchant = get_object_or_404(Merchant, pk=merchant_id)
    done = False
    if request.method == "POST":
        with scope(merchant=merchant):
            services.unsubscribe(token=token)
        done = True
    context = {"merchant": merchant, "address": address, "channel": channel, "done": done}
    return render(request, "messaging/unsubscribe.html", context)
