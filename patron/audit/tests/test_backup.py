"""`patron backup` and `patron restore` on the SQLite default, as a deployment runs them."""

import os
import subprocess
import sys

import pytest
from django.db import connection

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite backup only")


def patron(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patron", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_backup_then_restore_brings_back_the_data(tmp_path):
    env = {**os.environ, "PATRON_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    assert patron("migrate", "--noinput", env=env).returncode == 0
    made = patron("createmerchant", "kept", "--name", "Kept", "--country", "VN", env=env)
    assert made.returncode == 0, made.stderr
    backup = tmp_path / "backup.sqlite3"
    done = patron("backup", str(backup), env=env)
    assert done.returncode == 0, done.stderr
    assert patron("createmerchant", "later", "--name", "Later", "--country", "VN", env=env)
    assert patron("backup", str(backup), env=env).returncode != 0  # never overwrites
    restored = patron("restore", str(backup), "--yes", env=env)
    assert restored.returncode == 0, restored.stderr
    code = (
        "from patron.tenants.models import Merchant as M; "
        "print(sorted(M.objects.values_list('slug', flat=True)))"
    )
    listed = patron("shell", "--no-imports", "-c", code, env=env)
    assert listed.stdout.strip().splitlines()[-1] == "['kept']", listed.stderr
