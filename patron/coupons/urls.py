from django.urls import path

from patron.coupons import views

app_name = "coupons"
urlpatterns = [
    path("<int:coupon_id>/delete/", views.coupon_delete, name="delete"),
    path("<int:coupon_id>/regenerate/", views.coupon_regenerate, name="regenerate"),
]
