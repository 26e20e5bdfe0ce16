from django.urls import path

from patron.loyalty import views

app_name = "loyalty"
urlpatterns = [
    path("settings/", views.program_settings, name="program_settings"),
    path("members/", views.members, name="members"),
    path("members/activate/", views.members_activate, name="members_activate"),
    path("members/<int:member_id>/", views.member_page, name="member"),
    path("members/<int:member_id>/activate/", views.member_activate, name="member_activate"),
    path("members/<int:member_id>/exclude/", views.member_exclude, name="member_exclude"),
    path("members/<int:member_id>/delete/", views.member_delete, name="member_delete"),
    path("members/<int:member_id>/adjust/", views.member_adjust, name="member_adjust"),
    path("members/<int:member_id>/points/", views.points_give, name="points_give"),
    path(
        "members/<int:member_id>/redeem/", views.points_redeem_manual, name="points_redeem_manual"
    ),
    path(
        "members/<int:member_id>/rewards/<int:reward_id>/claim/",
        views.reward_claim,
        name="reward_claim",
    ),
]
