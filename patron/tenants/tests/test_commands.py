import io

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from patron.tenants.models import ApiKey, Merchant, StaffAccess, hash_api_key

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_createmerchant_createstaff_createapikey():
    run(
        "createmerchant",
        "pho-24",
        "--name",
        "Phở 24",
        "--country",
        "vn",
        "--timezone",
        "Asia/Ho_Chi_Minh",
    )
    merchant = Merchant.objects.get(slug="pho-24")
    assert (merchant.country, merchant.timezone) == ("VN", "Asia/Ho_Chi_Minh")

    output = run("createstaff", "pho-24", "Lan@Example.com", "--role", "manager")
    assert "Password:" in output
    access = StaffAccess.objects.get(merchant=merchant)
    assert (access.user.email, access.role) == ("lan@example.com", "manager")

    key = run("createapikey", "pho-24").strip().splitlines()[-1]
    with scopes_disabled():
        stored = ApiKey.objects.get(merchant=merchant)
    assert key.startswith("ptr_")
    assert stored.key_hash == hash_api_key(key)
    assert key not in (stored.prefix, stored.key_hash)


def test_createmerchant_refuses_a_taken_slug():
    run("createmerchant", "a", "--name", "A", "--country", "US")
    with pytest.raises(CommandError, match="already exists"):
        run("createmerchant", "a", "--name", "A", "--country", "US")


def test_demo_is_rebuilt_from_scratch():
    first = run("demo")
    assert "owner@demo.patron" in first
    run("demo")
    assert Merchant.objects.filter(slug="demo").count() == 1


def test_the_web_application_leaves_what_it_loaded_out_of_full_collections():
    """patron.wsgi freezes what it loaded, so full garbage collections stay short."""
    import subprocess
    import sys

    probe = "import gc, patron.wsgi; print(gc.get_freeze_count())"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )

    assert int(done.stdout.strip()) > 50_000
