from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "patron.integrations"
    label = "integrations"

    def ready(self) -> None:
        from patron.contacts.privacy import register_eraser, register_exporter
        from patron.coupons.services import register_bulk_issue_guard
        from patron.integrations import privacy
        from patron.integrations.shopify.services import refuse_bulk_issue_while_syncing

        register_exporter("integrations", privacy.integrations_export)
        register_eraser("integrations", privacy.integrations_erase)
        register_bulk_issue_guard(refuse_bulk_issue_while_syncing)
