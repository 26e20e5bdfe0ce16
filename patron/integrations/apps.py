from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "patron.integrations"
    label = "integrations"

    def ready(self) -> None:
        from patron.contacts.privacy import register_eraser, register_exporter
        from patron.integrations import privacy

        register_exporter("integrations", privacy.integrations_export)
        register_eraser("integrations", privacy.integrations_erase)
