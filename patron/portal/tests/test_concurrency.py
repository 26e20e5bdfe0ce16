"""Send limits hold when many requests for one number arrive at the same moment."""

import threading

import pytest
from django.db import close_old_connections, connection
from django_scopes import scope, scopes_disabled

from patron.lib.errors import PatronError
from patron.portal import services
from patron.portal.models import OneTimeCode
from patron.portal.tests.factories import configure, make_member

ATTEMPTS = 12


@pytest.mark.postgres_only
def test_concurrent_code_requests_never_exceed_the_per_phone_limit(transactional_db, trio):
    if connection.vendor != "postgresql":
        pytest.skip("Row locks under real concurrency need PostgreSQL")
    make_member(trio.merchant, "0912 345 678")
    configure(trio.merchant, sends_per_phone_per_hour=3, sends_per_address_per_hour=50)
    start = threading.Barrier(ATTEMPTS)
    outcomes: list[str] = []

    def ask(n: int) -> None:
        start.wait()
        try:
            with scope(merchant=trio.merchant):
                services.code_request(
                    merchant=trio.merchant, phone="0912345678", client_address=f"10.0.0.{n}"
                )
            outcomes.append("sent")
        except PatronError as error:
            outcomes.append(error.code)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("sent") == 3
    assert outcomes.count("portal_too_many_codes") == ATTEMPTS - 3
    with scopes_disabled():
        assert OneTimeCode.objects.filter(phone="+84912345678").count() == 3
