"""factory-boy factories for the tenancy and contact models, shared by every app's tests.

Factories write with scopes disabled: they set up a world, the code under test must
then find its way through the scope on its own.
"""

from typing import Any

import factory
from django_scopes import scopes_disabled

from patron.contacts.models import Contact
from patron.tenants.models import Agency, ApiKey, Merchant, Role, StaffAccess, User


class ScopedFactory(factory.django.DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        with scopes_disabled():
            return super()._create(model_class, *args, **kwargs)


class AgencyFactory(ScopedFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"Agency {n}")


class MerchantFactory(ScopedFactory):
    class Meta:
        model = Merchant

    agency = factory.SubFactory(AgencyFactory)
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    name = factory.Sequence(lambda n: f"Merchant {n}")
    country = "VN"
    timezone = "Asia/Ho_Chi_Minh"
    currency = "VND"


class UserFactory(ScopedFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.SelfAttribute("email")
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def saved(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


class StaffAccessFactory(ScopedFactory):
    class Meta:
        model = StaffAccess

    user = factory.SubFactory(UserFactory)
    merchant = factory.SubFactory(MerchantFactory)
    role = Role.OWNER


class ContactFactory(ScopedFactory):
    class Meta:
        model = Contact

    merchant = factory.SubFactory(MerchantFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    phone = factory.Sequence(lambda n: f"+8490{n:07d}")
    email = factory.LazyAttribute(
        lambda c: f"{c.first_name.lower()}.{c.last_name.lower()}@example.com"
    )
    search_text = factory.LazyAttribute(lambda c: f"{c.first_name} {c.last_name} {c.email}".lower())


def make_api_key(merchant: Merchant) -> str:
    """A raw bearer key for the merchant."""
    raw, prefix, key_hash = ApiKey.generate()
    with scopes_disabled():
        ApiKey.objects.create(merchant=merchant, prefix=prefix, key_hash=key_hash, name="test")
    return raw
