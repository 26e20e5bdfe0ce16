import pytest


@pytest.fixture(autouse=True)
def immediate_tasks(settings):
    """Run enqueued tasks at once, so a test sees what a worker would do after commit."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
