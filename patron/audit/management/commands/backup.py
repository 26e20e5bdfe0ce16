"""`patron backup FILE`: a consistent copy of the SQLite database while Patron runs.

Uses SQLite's online backup API, which copies pages under the database's own locking,
so writers keep working and the copy is a single point in time (a plain file copy of
a WAL database can miss committed pages). PostgreSQL: use pg_dump (README).
"""

import sqlite3
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection


def sqlite_path() -> Path:
    if connection.vendor != "sqlite":
        raise CommandError("backup copies the SQLite database; on PostgreSQL use pg_dump.")
    return Path(connection.settings_dict["NAME"])


class Command(BaseCommand):
    help = "Copy the SQLite database to FILE while Patron keeps running."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("target", help="file to write the backup to")

    def handle(self, *args: Any, **options: Any) -> None:
        source_path = sqlite_path()
        target = Path(options["target"])
        if target.exists():
            raise CommandError(f"{target} exists; choose a new file.")
        source = sqlite3.connect(source_path)
        copy = sqlite3.connect(target)
        try:
            with copy:
                source.backup(copy, pages=1024)
            check = copy.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            copy.close()
            source.close()
        if check != "ok":
            raise CommandError(f"The copy failed its integrity check: {check}")
        self.stdout.write(f"Backed up {source_path} to {target}")
