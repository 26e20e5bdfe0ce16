from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "patron.messaging"
    label = "messaging"

    def ready(self) -> None:
        from patron.contacts.privacy import register_eraser, register_exporter
        from patron.messaging import privacy

        register_exporter("messaging", privacy.messaging_export)
        register_eraser("messaging", privacy.messaging_erase)
