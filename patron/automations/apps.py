from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    name = "patron.automations"
    label = "automations"

    def ready(self) -> None:
        from patron.automations import privacy
        from patron.contacts.privacy import register_eraser, register_exporter

        register_exporter("automations", privacy.automations_export)
        register_eraser("automations", privacy.automations_erase)
