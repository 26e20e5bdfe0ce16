"""The SQLite backend's write turns: a writer waits for the one before it to finish."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backend"),
]


def _second_writer(finished: list[float], started: threading.Event) -> None:
    try:
        # Without SQLite's own waiting: a writer that found the lock taken would fail at
        # once ("database is locked") if the backend did not queue it first.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 0")
        started.set()
        with transaction.atomic():  # BEGIN IMMEDIATE, after its turn
            finished.append(time.monotonic())
    finally:
        connections.close_all()


def _writer_waits_for(end_first_transaction) -> float:  # type: ignore[no-untyped-def]
    """Seconds between the first writer's end and the second's start."""
    finished: list[float] = []
    started = threading.Event()
    second = threading.Thread(target=_second_writer, args=(finished, started))
    with transaction.atomic():
        second.start()
        started.wait(5)
        time.sleep(0.3)
        assert not finished, "the second writer began while the first was writing"
        ended = time.monotonic()
        end_first_transaction()
    second.join(10)
    assert finished, "the second writer failed"
    return finished[0] - ended


def test_a_writer_begins_when_the_one_before_it_commits():
    assert _writer_waits_for(lambda: None) < 2


def test_a_writer_begins_when_the_one_before_it_rolls_back():
    assert _writer_waits_for(lambda: transaction.set_rollback(True)) < 2


def test_the_turn_is_not_held_after_a_failed_transaction():
    with pytest.raises(RuntimeError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        raise RuntimeError("refused")
    assert not connection._has_turn  # type: ignore[attr-defined]
    with transaction.atomic():
        assert connection._has_turn  # type: ignore[attr-defined]
    assert not connection._has_turn  # type: ignore[attr-defined]
