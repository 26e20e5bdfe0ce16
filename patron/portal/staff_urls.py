"""Staff pages of the customer page, under Settings (included at /settings/customer-page/)."""

from django.urls import path

from patron.portal import views

app_name = "portal_staff"
urlpatterns = [path("", views.settings_page, name="settings")]
