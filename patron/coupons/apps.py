from django.apps import AppConfig


class CouponsConfig(AppConfig):
    name = "patron.coupons"
    label = "coupons"
