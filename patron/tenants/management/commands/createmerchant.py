from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from patron.lib.errors import PatronError
from patron.tenants.services import merchant_create


class Command(BaseCommand):
    help = "Create a merchant (a tenant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--country", required=True, help="Two-letter code, e.g. VN or US")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--language", default="en", choices=["en", "vi"])

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            merchant = merchant_create(
                slug=options["slug"],
                name=options["name"],
                country=options["country"],
                timezone_name=options["timezone"],
                currency=options["currency"],
                language=options["language"],
            )
        except PatronError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Created merchant {merchant.slug} ({merchant.name}).")
