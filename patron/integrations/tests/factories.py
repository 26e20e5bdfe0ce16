"""Factories for integrations models."""

import factory

from patron.factories import MerchantFactory, ScopedFactory
from patron.integrations import signing
from patron.integrations.models import WebhookEndpoint


class WebhookEndpointFactory(ScopedFactory):
    class Meta:
        model = WebhookEndpoint

    merchant = factory.SubFactory(MerchantFactory)
    url = "http://127.0.0.1:9/hooks"
    secret = factory.LazyFunction(signing.new_secret)
