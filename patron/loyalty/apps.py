from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "patron.loyalty"
    label = "loyalty"
