from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "patron.rewards"
    label = "rewards"
