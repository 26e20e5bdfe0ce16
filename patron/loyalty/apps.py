from django.apps import AppConfig


class LoyaltyConfig(AppConfig):
    name = "patron.loyalty"
    label = "loyalty"

    def ready(self) -> None:
        from patron.contacts.privacy import register_eraser, register_exporter
        from patron.loyalty import privacy

        register_exporter("loyalty", privacy.loyalty_export)
        register_eraser("loyalty", privacy.loyalty_erase)
