from django.urls import path

from patron.contacts import views
from patron.coupons import views as coupon_views
from patron.loyalty import views as loyalty_views

app_name = "contacts"
urlpatterns = [
    path("", views.contact_list, name="list"),
    path("create/", views.contact_create, name="create"),
    path("<int:contact_id>/", views.contact_profile, name="profile"),
    path("<int:contact_id>/activity/", views.contact_profile, name="activity"),
    path("<int:contact_id>/points/", loyalty_views.points_tab, name="points"),
    path(
        "<int:contact_id>/discount-codes/",
        coupon_views.discount_codes_tab,
        name="discount_codes",
    ),
    path("<int:contact_id>/membership/", loyalty_views.membership_tab, name="membership"),
    path(
        "<int:contact_id>/membership/join/", loyalty_views.membership_join, name="membership_join"
    ),
    path("<int:contact_id>/notes/", views.note_add, name="note_add"),
    path("<int:contact_id>/edit/", views.contact_edit, name="edit"),
    path("<int:contact_id>/export/", views.contact_export, name="export"),
    path("<int:contact_id>/erase/", views.contact_erase, name="erase"),
]
