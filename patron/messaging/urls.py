from django.urls import path

from patron.messaging import views

app_name = "messaging"
urlpatterns = [
    path("", views.outbox, name="outbox"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/<int:notification_id>/", views.notification_open, name="notification_open"),
    path("contacts/<int:contact_id>/sms/", views.contact_send_sms, name="contact_send_sms"),
    path("settings/", views.channel_settings, name="settings"),
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_edit, name="template_new"),
    path("templates/preview/", views.template_preview, name="template_preview"),
    path("templates/<int:message_template_id>/", views.template_edit, name="template_edit"),
    path(
        "templates/<int:message_template_id>/delete/", views.template_delete, name="template_delete"
    ),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
