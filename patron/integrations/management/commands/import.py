"""`patron import SLUG FILE [--map column=field ...] [--dry-run] [--resume ID]`.

Imports customers from a CSV file of any size, printing progress, then every bad row
with its reason. Running the same file again changes nothing.
"""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_scopes import scope

from patron.integrations import imports
from patron.integrations.models import ImportBatch, ImportRow, RowOutcome
from patron.lib.actors import Actor
from patron.lib.errors import PatronError
from patron.tenants.models import Merchant


class Command(BaseCommand):
    help = "Import customers from a CSV file (with a dry run first if you like)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The merchant's slug")
        parser.add_argument("file", nargs="?", help="The CSV file")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help=f"Map a column to a field ({', '.join(imports.FIELDS)}); FIELD empty ignores it",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check every row, write none")
        parser.add_argument("--resume", type=int, metavar="ID", help="Resume the import ID")

    def handle(self, *args: Any, **options: Any) -> None:
        merchant = Merchant.objects.filter(slug=options["slug"]).first()
        if merchant is None:
            raise CommandError(f"No merchant {options['slug']!r}.")
        actor = Actor.system("Command line import")
        with scope(merchant=merchant):
            try:
                batch = self._batch(merchant, actor, options)
                if batch.status not in {"checking", "importing"}:
                    batch = imports.import_start(
                        merchant=merchant,
                        batch=batch,
                        actor=actor,
                        dry_run=options["dry_run"],
                        enqueue=False,
                    )
            except PatronError as error:
                raise CommandError(error.message) from error
            self.stdout.write(f"Import {batch.pk}: {batch.total_rows} rows from {batch.file_name}")
            self.stdout.write(
                "Mapping: " + ", ".join(f"{c} -> {f}" for c, f in batch.mapping.items())
            )
            batch = imports.import_run(
                merchant=merchant, batch_id=batch.pk, progress=self._progress
            )
            self._report(batch)

    def _batch(self, merchant: Merchant, actor: Actor, options: dict[str, Any]) -> ImportBatch:
        if options["resume"]:
            batch = ImportBatch.objects.filter(merchant=merchant, pk=options["resume"]).first()
            if batch is None:
                raise CommandError(f"No import {options['resume']}.")
            return batch
        if not options["file"]:
            raise CommandError("Give a CSV file (or --resume ID).")
        path = Path(options["file"]).resolve()
        if not path.is_file():
            raise CommandError(f"No file {options['file']!r}.")
        mapping = imports.guess_mapping(imports.read_header(str(path)))
        for item in options["map"]:
            column, sep, field_name = item.partition("=")
            if not sep:
                raise CommandError(f"--map takes COLUMN=FIELD, not {item!r}.")
            mapping = {c: f for c, f in mapping.items() if f != field_name or not field_name}
            mapping[column.strip()] = field_name.strip()
        batch = imports.import_create(
            merchant=merchant, actor=actor, path=str(path), file_name=path.name
        )
        return imports.import_set_mapping(
            merchant=merchant, batch=batch, actor=actor, mapping=mapping
        )

    def _progress(self, batch: ImportBatch) -> None:
        done = batch.checked_rows if batch.status == "checking" else batch.imported_rows
        self.stdout.write(f"  {done}/{batch.total_rows} rows ({batch.progress()}%)")

    def _report(self, batch: ImportBatch) -> None:
        dry_run = batch.status == "checked"
        counts = batch.counts.get("dry_run" if dry_run else "import", {})
        title = "Dry run" if dry_run else "Imported"
        summary = ", ".join(f"{counts.get(o, 0)} {o}" for o in RowOutcome.values)
        self.stdout.write(f"{title}: {summary}")
        bad = ImportRow.objects.filter(
            batch=batch, dry_run=dry_run, outcome=RowOutcome.ERROR
        ).order_by("row_number")
        for row in bad.iterator(chunk_size=1000):
            self.stdout.write(f"  row {row.row_number}: {row.message}")
        self.stdout.write(f"Batch id: {batch.pk}")
