"""Staff pages of integrations (owners and managers): webhooks, import, export, Shopify."""

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scope

from patron.integrations import exports, imports, selectors, services
from patron.integrations.forms import EndpointForm, ShopifyStoreForm
from patron.integrations.models import (
    ImportBatch,
    ImportRow,
    ImportStatus,
    RowOutcome,
    ShopifyWebhookReceipt,
    SyncStatus,
    WebhookEndpoint,
)
from patron.integrations.shopify import incoming
from patron.integrations.shopify import services as shopify_services
from patron.lib.errors import PatronError
from patron.tenants.http import StaffRequest
from patron.tenants.models import Merchant, Role
from patron.tenants.permissions import staff_required

SECTION = "integrations"


def _endpoint(request: StaffRequest, endpoint_id: int) -> WebhookEndpoint:
    endpoint = selectors.endpoint_get(request.merchant, endpoint_id)
    if endpoint is None:
        # Unknown ids and other merchants' endpoints look the same.
        raise Http404
    return endpoint


JUST_CREATED = "integrations:endpoint-just-created"


@staff_required(Role.MANAGER)
def webhooks(request: StaffRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.endpoint_create(
                merchant=request.merchant,
                actor=request.actor,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
            )
        except PatronError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            # Redirect, so that reloading the page does not create a second endpoint; the
            # next page shows the secret, and only that page.
            request.session[JUST_CREATED] = created.pk
            return redirect("integrations:webhooks")
    shown_once = request.session.pop(JUST_CREATED, None) if request.method == "GET" else None
    context = {
        "section": SECTION,
        "tab": "webhooks",
        "endpoints": selectors.endpoints(request.merchant),
        "form": form,
        # The secret is on screen this once; later pages never show it.
        "created": selectors.endpoint_get(request.merchant, shown_once) if shown_once else None,
    }
    return render(
        request, "integrations/webhooks.html", context, status=422 if form.errors else 200
    )


@staff_required(Role.MANAGER)
def webhook_detail(request: StaffRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(request, endpoint_id)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
    }
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.endpoint_update(
                merchant=request.merchant,
                endpoint=endpoint,
                actor=request.actor,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
                enabled=form.cleaned_data["enabled"],
            )
        except PatronError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("Endpoint saved."))
            return redirect("integrations:webhook_detail", endpoint_id=endpoint.pk)
    page = Paginator(selectors.deliveries(request.merchant, endpoint), 25).get_page(
        request.GET.get("page")
    )
    context = {
        "section": SECTION,
        "tab": "webhooks",
        "endpoint": endpoint,
        "form": form,
        "page": page,
    }
    if request.htmx and request.htmx.target == "deliveries":
        return render(request, "integrations/_deliveries.html", context)
    return render(request, "integrations/webhook_detail.html", context)


@staff_required(Role.MANAGER)
@require_POST
def webhook_rotate_secret(request: StaffRequest, endpoint_id: int) -> HttpResponse:
    endpoint = services.endpoint_rotate_secret(
        merchant=request.merchant, endpoint=_endpoint(request, endpoint_id), actor=request.actor
    )
    context = {"section": SECTION, "tab": "webhooks", "endpoint": endpoint}
    return render(request, "integrations/webhook_secret.html", context)


@staff_required(Role.MANAGER)
@require_POST
def webhook_delete(request: StaffRequest, endpoint_id: int) -> HttpResponse:
    services.endpoint_delete(
        merchant=request.merchant, endpoint=_endpoint(request, endpoint_id), actor=request.actor
    )
    messages.success(request, _("Endpoint deleted."))
    return redirect("integrations:webhooks")


@staff_required(Role.MANAGER)
@require_POST
def delivery_replay(request: StaffRequest, delivery_id: int) -> HttpResponse:
    delivery = selectors.delivery_get(request.merchant, delivery_id)
    if delivery is None:
        raise Http404
    services.delivery_replay(merchant=request.merchant, delivery=delivery, actor=request.actor)
    messages.success(request, _("The event will be sent again."))
    return redirect("integrations:webhook_detail", endpoint_id=delivery.endpoint_id)


# --- CSV import ------------------------------------------------------------------------


def _batch(request: StaffRequest, batch_id: int) -> ImportBatch:
    batch = ImportBatch.objects.filter(merchant=request.merchant, pk=batch_id).first()
    if batch is None:
        raise Http404
    return batch


@staff_required(Role.MANAGER)
def import_list(request: StaffRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error = _("Choose a CSV file.")
        else:
            try:
                batch = imports.import_upload(
                    merchant=request.merchant, actor=request.actor, upload=upload
                )
            except PatronError as exc:
                error = exc.message
            else:
                return redirect("integrations:import_detail", batch_id=batch.pk)
    context = {
        "section": SECTION,
        "tab": "import",
        "batches": ImportBatch.objects.filter(merchant=request.merchant).order_by("-pk")[:50],
        "error": error,
    }
    return render(request, "integrations/import_list.html", context, status=422 if error else 200)


def _import_context(request: StaffRequest, batch: ImportBatch) -> dict[str, Any]:
    header = imports.read_header(batch.file_path) if batch.status != "undone" else []
    dry_run = batch.status in {ImportStatus.UPLOADED, ImportStatus.CHECKING, ImportStatus.CHECKED}
    show = request.GET.get("show", "all")
    rows = ImportRow.objects.filter(batch=batch, dry_run=dry_run).order_by("row_number")
    if show == "errors":
        rows = rows.filter(outcome=RowOutcome.ERROR)
    return {
        "section": SECTION,
        "tab": "import",
        "batch": batch,
        "columns": [
            (index, column, batch.mapping.get(column, "")) for index, column in enumerate(header)
        ],
        "fields": [(name, label) for name, (label, _names) in imports.FIELDS.items()],
        "counts": batch.counts.get("dry_run" if dry_run else "import", {}),
        "rows": Paginator(rows, 50).get_page(request.GET.get("page")),
        "show": show,
    }


@staff_required(Role.MANAGER)
def import_detail(request: StaffRequest, batch_id: int) -> HttpResponse:
    batch = _batch(request, batch_id)
    error = ""
    if request.method == "POST":
        header = imports.read_header(batch.file_path)
        mapping = {
            column: request.POST.get(f"map-{index}", "") for index, column in enumerate(header)
        }
        try:
            batch = imports.import_set_mapping(
                merchant=request.merchant, batch=batch, actor=request.actor, mapping=mapping
            )
            batch = imports.import_start(
                merchant=request.merchant,
                batch=batch,
                actor=request.actor,
                dry_run=request.POST.get("run") != "import",
            )
        except PatronError as exc:
            error = exc.message
        else:
            return redirect("integrations:import_detail", batch_id=batch.pk)
    context = {**_import_context(request, batch), "error": error}
    if request.htmx and request.htmx.target == "import-progress":
        context["just_finished"] = not batch.running
        return render(request, "integrations/_import_progress.html", context)
    return render(request, "integrations/import_detail.html", context, status=422 if error else 200)


@staff_required(Role.MANAGER)
@require_POST
def import_run(request: StaffRequest, batch_id: int) -> HttpResponse:
    """The import after a dry run, with the mapping the dry run used."""
    batch = _batch(request, batch_id)
    try:
        imports.import_start(
            merchant=request.merchant, batch=batch, actor=request.actor, dry_run=False
        )
    except PatronError as exc:
        messages.error(request, exc.message)
    return redirect("integrations:import_detail", batch_id=batch.pk)


@staff_required(Role.MANAGER)
@require_POST
def import_undo(request: StaffRequest, batch_id: int) -> HttpResponse:
    batch = _batch(request, batch_id)
    try:
        undone = imports.import_undo(merchant=request.merchant, batch=batch, actor=request.actor)
    except PatronError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Import undone: %(n)s contacts deleted.") % {"n": undone})
    return redirect("integrations:import_detail", batch_id=batch.pk)


# --- CSV export ------------------------------------------------------------------------


@staff_required(Role.MANAGER)
def export_list(request: StaffRequest) -> HttpResponse:
    return render(request, "integrations/export.html", {"section": SECTION, "tab": "export"})


@staff_required(Role.MANAGER)
def export_csv(request: StaffRequest, kind: str) -> HttpResponse:
    make = exports.EXPORTS.get(kind)
    if make is None:
        raise Http404
    stamp = timezone.localdate().isoformat()
    response = StreamingHttpResponse(make(request.merchant), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{request.merchant.slug}-{kind}-{stamp}.csv"'
    )
    # staff_required is typed for HttpResponse; a streamed one behaves the same to it.
    return response  # type: ignore[return-value]


# --- Shopify ---------------------------------------------------------------------------


@staff_required(Role.MANAGER)
def shopify(request: StaffRequest) -> HttpResponse:
    store = shopify_services.store_for(request.merchant)
    initial = (
        {
            "shop_domain": store.shop_domain,
            "exclude_shipping": store.exclude_shipping,
            "exclude_tax": store.exclude_tax,
            "sync_coupons": store.sync_coupons,
        }
        if store
        else None
    )
    form = ShopifyStoreForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            shopify_services.store_connect(
                merchant=request.merchant, actor=request.actor, **form.cleaned_data
            )
        except PatronError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("Store settings saved."))
            return redirect("integrations:shopify")
    open_syncs = list(selectors.coupon_syncs_not_done(request.merchant)[:500])
    context = {
        "section": SECTION,
        "tab": "shopify",
        "store": store,
        "form": form,
        "webhook_url": request.build_absolute_uri(
            reverse("integrations:shopify_webhook", args=[request.merchant.slug])
        ),
        "receipts": ShopifyWebhookReceipt.objects.filter(merchant=request.merchant).order_by(
            "-received_at"
        )[:20],
        "syncs": selectors.coupon_syncs(request.merchant)[:50],
        # Code changes the store has not got yet: staff see how many, and which failed.
        "open_syncs": open_syncs,
        "failed_syncs": sum(1 for sync in open_syncs if sync.status == SyncStatus.FAILED),
    }
    return render(request, "integrations/shopify.html", context, status=422 if form.errors else 200)


@staff_required(Role.MANAGER)
@require_POST
def shopify_health(request: StaffRequest) -> HttpResponse:
    try:
        store = shopify_services.store_health_check(merchant=request.merchant, actor=request.actor)
    except PatronError as error:
        messages.error(request, error.message)
    else:
        level = messages.SUCCESS if store.health_ok else messages.ERROR
        messages.add_message(request, level, store.health_message)
    return redirect("integrations:shopify")


@staff_required(Role.MANAGER)
@require_POST
def shopify_disconnect(request: StaffRequest) -> HttpResponse:
    shopify_services.store_disconnect(merchant=request.merchant, actor=request.actor)
    messages.success(request, _("Store disconnected."))
    return redirect("integrations:shopify")


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest, slug: str) -> HttpResponse:
    """Public: Shopify posts here. Only a body signed with the store's secret gets in;
    anything else, including an unknown merchant, is the same 401."""
    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        return HttpResponse("invalid signature", status=401)
    with scope(merchant=merchant):
        store = shopify_services.store_for(merchant)
        signature = request.headers.get("X-Shopify-Hmac-Sha256", "")
        if store is None or not incoming.signature_valid(
            store.webhook_secret, request.body, signature
        ):
            return HttpResponse("invalid signature", status=401)
        webhook_id = request.headers.get("X-Shopify-Webhook-Id", "").strip()
        if not webhook_id:
            return HttpResponse("missing X-Shopify-Webhook-Id", status=400)
        receipt = incoming.webhook_receive(
            merchant=merchant,
            store=store,
            topic=request.headers.get("X-Shopify-Topic", ""),
            webhook_id=webhook_id,
            body=request.body,
        )
    return JsonResponse({"status": receipt.status, "message": receipt.message})
