from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_scopes import scope

from patron.lib.actors import Actor
from patron.tenants.models import Merchant
from patron.tenants.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a merchant. The key is printed once, alone on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", default="Command line")

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = Merchant.objects.filter(slug=options["slug"]).first()
        if merchant is None:
            raise CommandError(f"No merchant with the slug {options['slug']!r}.")
        with scope(merchant=merchant):
            new = api_key_create(
                merchant=merchant, name=options["name"], actor=Actor.system("Command line")
            )
        self.stdout.write(f"API key for {merchant.slug} (shown once, store it now):")
        self.stdout.write(new.raw)
