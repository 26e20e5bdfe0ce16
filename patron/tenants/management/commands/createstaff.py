import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from patron.lib.errors import PatronError
from patron.tenants.models import Merchant, Role
from patron.tenants.services import staff_grant


class Command(BaseCommand):
    help = "Give a staff user a role at a merchant, creating the user if new."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("email")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="Generated and printed when omitted")

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = Merchant.objects.filter(slug=options["slug"]).first()
        if merchant is None:
            raise CommandError(f"No merchant with the slug {options['slug']!r}.")
        password = options["password"] or secrets.token_urlsafe(12)
        try:
            user = staff_grant(
                merchant=merchant, email=options["email"], role=options["role"], password=password
            )
        except PatronError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"{user.email} is {options['role']} at {merchant.slug}.")
        if not options["password"]:
            self.stdout.write(f"Password: {password}")
