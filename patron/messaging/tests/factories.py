"""Factories for messaging rows (scopes disabled, like the shared ones)."""

import factory

from patron.factories import MerchantFactory, ScopedFactory
from patron.messaging.models import ChannelSettings, MessageTemplate


class ChannelSettingsFactory(ScopedFactory):
    class Meta:
        model = ChannelSettings

    merchant = factory.SubFactory(MerchantFactory)


class MessageTemplateFactory(ScopedFactory):
    class Meta:
        model = MessageTemplate

    merchant = factory.SubFactory(MerchantFactory)
    key = "welcome"
    channel = "sms"
    language = "en"
    body = "Hi {first_name}, welcome to {merchant}!"
