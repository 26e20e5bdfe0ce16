"""`patron restore FILE`: put a backup made by `patron backup` back in place.

Stop Patron (web and workers) first: the copy replaces every page of the live database
through SQLite's backup API, so readers never see half a file, but requests running
during the restore would write into a database that is being replaced.
"""

import sqlite3
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from patron.audit.management.commands.backup import sqlite_path


class Command(BaseCommand):
    help = "Replace the SQLite database with a backup FILE (stop Patron first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help="a file written by `patron backup`")
        parser.add_argument("--yes", action="store_true", help="do not ask to confirm")

    def handle(self, *args: Any, **options: Any) -> None:
        target_path = sqlite_path()
        source_path = Path(options["source"])
        if not source_path.is_file():
            raise CommandError(f"No backup at {source_path}.")
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
        try:
            if source.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise CommandError(f"{source_path} is damaged; not restoring it.")
            if not options["yes"]:
                answer = input(f"Replace {target_path} with {source_path}? [y/N] ")
                if answer.strip().lower() not in {"y", "yes"}:
                    raise CommandError("Restore cancelled.")
            live = sqlite3.connect(target_path)
            try:
                with live:
                    source.backup(live)
            finally:
                live.close()
        finally:
            source.close()
        self.stdout.write(f"Restored {target_path} from {source_path}")
