from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "patron.audit"
    label = "audit"

    def ready(self) -> None:
        from patron.audit import privacy
        from patron.contacts.privacy import register_eraser

        register_eraser("audit", privacy.audit_erase)
