from django.urls import path

from patron.tenants import views

app_name = "settings"
urlpatterns = [
    path("", views.settings_index, name="index"),
    path("staff/", views.staff_users, name="staff"),
    path("staff/<int:user_id>/role/", views.staff_role, name="staff_role"),
    path("staff/<int:user_id>/remove/", views.staff_remove, name="staff_remove"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("language/", views.language, name="language"),
]
