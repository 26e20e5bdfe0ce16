from django.apps import AppConfig


class RewardsConfig(AppConfig):
    name = "patron.rewards"
    label = "rewards"

    def ready(self) -> None:
        from patron.contacts.privacy import register_eraser, register_exporter
        from patron.rewards import privacy

        register_exporter("rewards", privacy.rewards_export)
        register_eraser("rewards", privacy.rewards_erase)
