from typing import Any

from django.core.management.base import BaseCommand

from patron import demo


class Command(BaseCommand):
    help = "Create or refresh the demo merchant and its data, then print the login."

    def handle(self, *args: Any, **options: Any) -> None:
        login = demo.build_demo()
        self.stdout.write(f"Demo merchant: {login.merchant.name} ({login.merchant.slug})")
        self.stdout.write(f"Log in as {login.email} with the password {login.password}")
        self.stdout.write(f"(staff role: {demo.STAFF_EMAIL}; agency admin: {demo.AGENCY_EMAIL})")
