from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "patron.reports"
    label = "reports"
