from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "patron.portal"
    label = "portal"

    def ready(self) -> None:
        from patron.contacts.privacy import register_eraser, register_exporter
        from patron.portal import privacy

        register_exporter("portal", privacy.portal_export)
        register_eraser("portal", privacy.portal_erase)
