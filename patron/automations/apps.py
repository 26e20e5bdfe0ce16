from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "patron.automations"
    label = "automations"
