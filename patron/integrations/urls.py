from django.urls import path

from patron.integrations import views

app_name = "integrations"
urlpatterns = [
    path("", views.webhooks, name="home"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<int:endpoint_id>/", views.webhook_detail, name="webhook_detail"),
    path(
        "webhooks/<int:endpoint_id>/secret/",
        views.webhook_rotate_secret,
        name="webhook_rotate_secret",
    ),
    path("webhooks/<int:endpoint_id>/delete/", views.webhook_delete, name="webhook_delete"),
    path(
        "webhooks/deliveries/<int:delivery_id>/replay/",
        views.delivery_replay,
        name="delivery_replay",
    ),
    path("import/", views.import_list, name="import"),
    path("import/<int:batch_id>/", views.import_detail, name="import_detail"),
    path("import/<int:batch_id>/run/", views.import_run, name="import_run"),
    path("import/<int:batch_id>/undo/", views.import_undo, name="import_undo"),
    path("shopify/", views.shopify, name="shopify"),
    path("shopify/health/", views.shopify_health, name="shopify_health"),
    path("shopify/disconnect/", views.shopify_disconnect, name="shopify_disconnect"),
    path("shopify/webhooks/<slug:slug>/", views.shopify_webhook, name="shopify_webhook"),
    path("export/", views.export_list, name="export"),
    path("export/<slug:kind>.csv", views.export_csv, name="export_csv"),
]
