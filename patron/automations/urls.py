from django.urls import path

from patron.automations import views

app_name = "automations"
urlpatterns = [
    path("", views.workflow_list, name="list"),
    path("new/", views.workflow_create, name="create"),
    path("<int:workflow_id>/", views.workflow_edit, name="edit"),
    path("<int:workflow_id>/settings/", views.workflow_settings, name="settings"),
    path("<int:workflow_id>/publish/", views.workflow_status, {"verb": "publish"}, name="publish"),
    path("<int:workflow_id>/pause/", views.workflow_status, {"verb": "pause"}, name="pause"),
    path("<int:workflow_id>/steps/", views.step_add, name="step_add"),
    path(
        "<int:workflow_id>/steps/<int:step_id>/<str:verb>/",
        views.step_change,
        name="step_change",
    ),
    path("enrollments/<int:enrollment_id>/", views.enrollment_detail, name="enrollment"),
    path(
        "enrollments/<int:enrollment_id>/cancel/",
        views.enrollment_cancel,
        name="enrollment_cancel",
    ),
    path("picker/", views.workflow_picker, name="picker"),
    path("trigger/", views.trigger_automation, name="trigger"),
]
