"""The page speaks the browser's language, English or Vietnamese, and can be switched."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_page_follows_the_browsers_language(trio):
    page = Client(HTTP_ACCEPT_LANGUAGE="vi-VN,vi;q=0.9").get("/p/alpha/")

    assert "Gửi mã cho tôi" in page.content.decode()
    assert page["Content-Language"] == "vi"


def test_customer_switches_language_and_the_choice_sticks(trio):
    client = Client(HTTP_ACCEPT_LANGUAGE="vi")

    switched = client.get("/p/alpha/", {"lang": "en"})
    again = client.get("/p/alpha/")

    assert "Send me a code" in switched.content.decode()
    assert "Send me a code" in again.content.decode()


def test_unknown_language_falls_back_to_english(trio):
    page = Client(HTTP_ACCEPT_LANGUAGE="de").get("/p/alpha/", {"lang": "xx"})

    assert "Send me a code" in page.content.decode()
