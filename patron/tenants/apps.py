from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "patron.tenants"
    label = "tenants"
    verbose_name = "Agencies, merchants and staff"
