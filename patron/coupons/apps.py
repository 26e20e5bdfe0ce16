from django.apps import AppConfig


class CouponsConfig(AppConfig):
    name = "patron.coupons"
    label = "coupons"

    def ready(self) -> None:
        from patron.contacts.privacy import register_eraser, register_exporter
        from patron.coupons import privacy

        register_exporter("coupons", privacy.coupons_export)
        register_eraser("coupons", privacy.coupons_erase)
