import pytest
from django.test import Client


@pytest.mark.django_db
def test_health_and_readiness_answer_ok_on_a_migrated_database():
    assert Client().get("/healthz").json() == {"status": "ok"}
    assert Client().get("/readyz").json() == {"status": "ok"}


@pytest.mark.django_db
def test_readiness_reports_an_unreachable_redis_in_rq_mode(settings):
    settings.TASKS_BACKEND = "rq"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    answer = Client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["problems"][0].startswith("redis:")
