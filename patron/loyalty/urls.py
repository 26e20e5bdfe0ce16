from django.urls import path

from patron.loyalty import views

app_name = "loyalty"
urlpatterns = [
    path("settings/", views.program_settings, name="program_settings"),
    path("settings/categories/<int:category_id>/edit/", views.category_edit, name="category_edit"),
    path(
        "settings/categories/<int:category_id>/archive/",
        views.category_archive,
        name="category_archive",
    ),
    path(
        "settings/categories/<int:category_id>/delete/",
        views.category_delete,
        name="category_delete",
    ),
    path("settings/tiers/<int:tier_id>/edit/", views.tier_edit, name="tier_edit"),
    path("settings/tiers/<int:tier_id>/delete/", views.tier_delete, name="tier_delete"),
    path("settings/rewards/<int:reward_id>/edit/", views.reward_edit, name="reward_edit"),
    path("settings/rewards/<int:reward_id>/end/", views.reward_end, name="reward_end"),
    path("settings/rewards/<int:reward_id>/reopen/", views.reward_reopen, name="reward_reopen"),
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
