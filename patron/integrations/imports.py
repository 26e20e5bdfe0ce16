"""CSV import of customers: upload, column mapping, dry run, import in batches, undo.

The file is read as a stream, row by row, never whole into memory, so any size works.
Each run (the dry run, then the import) walks the rows in batches of BATCH_SIZE; a batch
commits its rows' outcomes together with the run's row counter, so a run that stops
(a crash, a deploy) resumes after the last committed batch and never does a row twice.
A batch is parsed here and handed whole to contacts' `contacts_import`, which decides
every row in memory (as if the rows were written one by one) and writes them together:
a few dozen queries a batch instead of dozens a row.

A row is about one contact, found by its natural key: the external id when the file
has one, else the phone number in E.164. Re-running the same file finds every contact
and changes nothing. Opening balances go through loyalty's `points_give` with
source "import" and an idempotency key made from the contact's key and the amount, so
a second file with the same balances gives nothing twice.
"""

import csv
import datetime
import hashlib
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from patron.contacts import services as contacts
from patron.contacts.models import Contact
from patron.integrations.models import ImportBatch, ImportRow, ImportStatus, RowOutcome
from patron.lib.actors import Actor
from patron.lib.bulk import bulk_insert
from patron.lib.errors import Conflict, InvalidInput, NotFound, PatronError
from patron.lib.phones import CheckedPhoneNumber, InvalidPhone, parse_phone_number
from patron.lib.postgresql.base import statements_planned_each_time
from patron.tenants.models import Merchant

BATCH_SIZE = 500
STALE_RUN = datetime.timedelta(minutes=3)
EXTERNAL_ID_KEY = "import"
# field -> (label, the header names a file commonly uses for it)
FIELDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "external_id": (_("External id"), ("external_id", "id", "customer_id", "customer id", "ma")),
    "first_name": (_("First name"), ("first_name", "first name", "firstname", "given name")),
    "last_name": (_("Last name"), ("last_name", "last name", "lastname", "surname", "family name")),
    "name": (_("Full name"), ("name", "full_name", "full name", "ho ten", "ten")),
    "phone": (_("Phone"), ("phone", "phone_number", "mobile", "telephone", "so dien thoai", "sdt")),
    "email": (_("Email"), ("email", "e-mail", "email address")),
    "birthday": (_("Birthday"), ("birthday", "birth_date", "date_of_birth", "dob", "ngay sinh")),
    "tags": (_("Tags"), ("tags", "tag", "labels")),
    "points": (_("Opening balance (points)"), ("points", "balance", "opening_balance", "diem")),
}
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")


class ImportNotFound(NotFound):
    code = "import_not_found"
    title = "No such import"


class ImportBusy(Conflict):
    code = "import_busy"
    title = "This import is running or already done"


class BadMapping(InvalidInput):
    code = "bad_import_mapping"
    title = "Map a column to the phone or the external id"


# --- the file --------------------------------------------------------------------------


def imports_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open(path: str) -> IO[str]:
    # utf-8-sig drops the byte-order mark spreadsheet programs put first.
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


def _dialect(path: str) -> type[csv.Dialect] | csv.Dialect:
    with _open(path) as handle:
        sample = handle.read(8192)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def read_header(path: str) -> list[str]:
    with _open(path) as handle:
        reader = csv.reader(handle, _dialect(path))
        return [column.strip() for column in next(reader, [])]


def read_rows(path: str, skip: int = 0) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: value}) from row `skip + 1` on; row 1 follows the header."""
    with _open(path) as handle:
        reader = csv.reader(handle, _dialect(path))
        header = [column.strip() for column in next(reader, [])]
        for number, values in enumerate(reader, start=1):
            if number <= skip:
                continue
            if not any(value.strip() for value in values):
                continue
            yield number, dict(zip(header, values, strict=False))


def blank_rows(path: str, numbers: set[int]) -> int:
    """Empty the cells of the given rows in an uploaded file, keeping every other row's
    number (an erased customer's line goes; the batch can still resume and undo).
    Returns how many rows were blanked."""
    if not numbers or not os.path.exists(path):
        return 0
    dialect = _dialect(path)
    blanked = 0
    temporary = f"{path}.erasing"
    with _open(path) as source, open(temporary, "w", encoding="utf-8", newline="") as target:
        reader = csv.reader(source, dialect)
        writer = csv.writer(target, dialect)
        writer.writerow(next(reader, []))
        for number, values in enumerate(reader, start=1):
            if number in numbers:
                blanked += 1
            writer.writerow([""] * len(values) if number in numbers else values)
    os.replace(temporary, path)
    return blanked


def count_rows(path: str) -> int:
    last = 0
    for number, _row in read_rows(path):
        last = number
    return last


def guess_mapping(header: list[str]) -> dict[str, str]:
    """{column: field} for the columns whose name says what they hold."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in header:
        name = column.strip().lower()
        for field_name, (_label, names) in FIELDS.items():
            if field_name not in taken and (name == field_name or name in names):
                mapping[column] = field_name
                taken.add(field_name)
                break
    return mapping


def _clean_mapping(header: list[str], mapping: dict[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for column, field_name in mapping.items():
        if not field_name:
            continue
        if column not in header:
            raise BadMapping(f"The file has no column {column!r}.", field="mapping")
        if field_name not in FIELDS:
            raise BadMapping(f"Unknown field {field_name!r}.", field="mapping")
        if field_name in cleaned.values():
            raise BadMapping(f"Two columns are mapped to {field_name!r}.", field="mapping")
        cleaned[column] = field_name
    if not {"phone", "external_id"} & set(cleaned.values()):
        raise BadMapping(field="mapping")
    return cleaned


# --- batches ---------------------------------------------------------------------------


@transaction.atomic
def import_create(
    *,
    merchant: Merchant,
    actor: Actor,
    path: str,
    file_name: str,
    mapping: dict[str, str] | None = None,
) -> ImportBatch:
    """A batch for a CSV file already on disk; the mapping is guessed when not given."""
    header = read_header(path)
    if not header:
        raise InvalidInput("The file is empty.", field="file")
    chosen = mapping if mapping is not None else guess_mapping(header)
    batch = ImportBatch(
        merchant=merchant,
        file_path=path,
        file_name=file_name[:255],
        mapping={column: f for column, f in chosen.items() if f},
        total_rows=count_rows(path),
    )
    batch.set_actor(actor)
    batch.save()
    return batch


def import_upload(*, merchant: Merchant, actor: Actor, upload: UploadedFile) -> ImportBatch:
    """Store an uploaded file in chunks (never whole in memory) and make its batch."""
    path = imports_dir() / f"{uuid.uuid4().hex}.csv"
    with open(path, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return import_create(
        merchant=merchant, actor=actor, path=str(path), file_name=upload.name or "import.csv"
    )


def _get(merchant: Merchant, batch_id: int) -> ImportBatch:
    batch = ImportBatch.objects.select_for_update().filter(merchant=merchant, pk=batch_id).first()
    if batch is None:
        raise ImportNotFound()
    return batch


@transaction.atomic
def import_set_mapping(
    *, merchant: Merchant, batch: ImportBatch, actor: Actor, mapping: dict[str, str]
) -> ImportBatch:
    batch = _get(merchant, batch.pk)
    if batch.status not in {ImportStatus.UPLOADED, ImportStatus.CHECKED}:
        raise ImportBusy()
    batch.mapping = _clean_mapping(read_header(batch.file_path), mapping)
    # A new mapping makes the previous dry run meaningless.
    ImportRow.objects.filter(batch=batch, dry_run=True).delete()
    batch.checked_rows = 0
    batch.counts = {}
    batch.status = ImportStatus.UPLOADED
    batch.save()
    return batch


@transaction.atomic
def import_start(
    *, merchant: Merchant, batch: ImportBatch, actor: Actor, dry_run: bool, enqueue: bool = True
) -> ImportBatch:
    """Mark a run as started; a task (or the command line, `enqueue=False`) runs it."""
    batch = _get(merchant, batch.pk)
    _clean_mapping(read_header(batch.file_path), batch.mapping)
    if batch.status not in {ImportStatus.UPLOADED, ImportStatus.CHECKED, ImportStatus.FAILED}:
        raise ImportBusy()
    if dry_run and batch.status != ImportStatus.FAILED:
        ImportRow.objects.filter(batch=batch, dry_run=True).delete()
        batch.checked_rows = 0
    batch.status = ImportStatus.CHECKING if dry_run else ImportStatus.IMPORTING
    batch.error = ""
    batch.heartbeat_at = timezone.now()
    batch.save()
    if enqueue:
        from patron.integrations.tasks import import_run_task

        transaction.on_commit(lambda: import_run_task.enqueue(merchant.pk, batch.pk))
    return batch


# --- rows ------------------------------------------------------------------------------


@dataclass
class Outcome:
    outcome: str
    message: str = ""
    natural_key: str = ""
    contact: Contact | None = None
    points: int = 0
    phone: str = ""
    # What the message says, for the staff app to say it in its language (reasons.py).
    reason_code: str = ""
    reason_params: dict[str, Any] = field(default_factory=dict)


class RowError(Exception):
    """What is wrong with a row: the English message, its reason code and the values
    the message quotes."""

    def __init__(self, message: str, code: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.params = params


def _parse_date(text: str) -> datetime.date:
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()  # noqa: DTZ007
        except ValueError:
            continue
    raise RowError(f"Bad date {text!r}: use YYYY-MM-DD or DD/MM/YYYY.", "bad_date", value=text)


def _parse_points(text: str) -> int:
    try:
        points = int(text.replace(",", "").replace(" ", ""))
    except ValueError as exc:
        raise RowError(
            f"Bad points {text!r}: use a whole number.", "bad_points", value=text
        ) from exc
    if points < 0:
        raise RowError("An opening balance cannot be negative.", "negative_points")
    return points


def _parse_phone(text: str, country: str) -> CheckedPhoneNumber:
    try:
        return parse_phone_number(text, country)
    except InvalidPhone as exc:
        raise RowError(f"Bad phone number {text!r}.", exc.code, value=text) from exc


def _parse_email(text: str) -> str:
    email = text.lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise RowError(f"Bad email {text!r}.", "bad_email", value=text) from exc
    return email


def _values(merchant: Merchant, mapping: dict[str, str], raw: dict[str, str]) -> dict[str, Any]:
    """The row's non-empty cells by field, parsed; RowError says what is wrong."""
    values: dict[str, Any] = {}
    for column, field_name in mapping.items():
        text = (raw.get(column) or "").strip()
        if text:
            values[field_name] = text
    if "name" in values:
        first, _sep, last = values.pop("name").partition(" ")
        values.setdefault("first_name", first)
        values.setdefault("last_name", last.strip())
    parsers: dict[str, Callable[[str], Any]] = {
        "phone": lambda text: _parse_phone(text, merchant.country),
        "email": _parse_email,
        "birthday": _parse_date,
        "points": _parse_points,
        "tags": lambda text: [t.strip() for t in text.replace(";", ",").split(",") if t.strip()],
    }
    for name, parse in parsers.items():
        if name in values:
            values[name] = parse(values[name])
    if any(len(values.get(name, "")) > 100 for name in ("first_name", "last_name")):
        raise RowError("A name has at most 100 characters.", "name_too_long")
    if not (values.get("external_id") or values.get("phone")):
        raise RowError("The row has no phone number and no external id.", "no_key")
    return values


def _known(merchant: Merchant, external_ids: set[str]) -> dict[str, list[int]]:
    """{external id: the contacts earlier imports made of it}, for a batch's ids at once.

    Earlier imports remember which contact an external id became (an indexed lookup;
    the JSON field has no index on every database)."""
    known: dict[str, list[int]] = {}
    if not external_ids:
        return known
    rows = (
        ImportRow.objects.filter(
            merchant=merchant,
            natural_key__in=[f"ext:{i}" for i in external_ids],
            dry_run=False,
            contact__isnull=False,
        )
        .values_list("natural_key", "contact_id")
        .distinct()
    )
    for key, contact_id in rows:
        known.setdefault(key, []).append(contact_id)
    return known


def _seen(
    batch: ImportBatch, rows: list[contacts.ImportedContact], dry_run: bool
) -> dict[str, int]:
    """{key: first row number} of this run's committed rows that share a key with `rows`."""
    keys = {key for row in rows for key in row.keys}
    natural = [key for key in keys if key.startswith("ext:")] + [
        key for key in keys if key.startswith("phone:")
    ]
    phones = [key.removeprefix("phone:") for key in keys if key.startswith("phone:")]
    seen: dict[str, int] = {}
    if not keys:
        return seen
    earlier = (
        ImportRow.objects.filter(Q(natural_key__in=natural) | Q(phone__in=phones))
        .filter(batch=batch, dry_run=dry_run)
        .exclude(outcome=RowOutcome.ERROR)
        .values_list("row_number", "natural_key", "phone")
    )
    for number, natural_key, phone in earlier:
        for key in (natural_key, f"phone:{phone}" if phone else ""):
            if key and number < seen.get(key, number + 1):
                seen[key] = number
    return seen


def _outcomes(
    batch: ImportBatch, rows: list[tuple[int, dict[str, str]]], *, dry_run: bool, actor: Actor
) -> dict[int, Outcome]:
    """Every row's outcome, the rows written together through contacts_import."""
    merchant = batch.merchant
    outcomes: dict[int, Outcome] = {}
    parsed: list[tuple[contacts.ImportedContact, str, dict[str, Any]]] = []
    for number, raw in rows:
        try:
            values = _values(merchant, batch.mapping, raw)
        except RowError as exc:
            outcomes[number] = Outcome(
                RowOutcome.ERROR, exc.message, reason_code=exc.code, reason_params=exc.params
            )
            continue
        external_id = values.get("external_id")
        # Parsed once: the row carries the number's E.164 text, a new contact the number.
        phone_number = values.get("phone")
        if phone_number:
            values["phone"] = phone_number.as_e164
        phone = values.get("phone") or ""
        key = f"ext:{external_id}" if external_id else f"phone:{phone}"
        keys = [key, f"phone:{phone}"] if phone and external_id else [key]
        row = contacts.ImportedContact(
            number=number,
            values=values,
            keys=keys,
            external_ids={EXTERNAL_ID_KEY: external_id} if external_id else {},
            phone_number=phone_number,
        )
        parsed.append((row, key, values))
    known = _known(merchant, {v["external_id"] for _r, _k, v in parsed if v.get("external_id")})
    for row, key, _v in parsed:
        row.known_ids = known.get(key, []) if key.startswith("ext:") else []
    seen = _seen(batch, [row for row, _k, _v in parsed], dry_run)
    decided = contacts.contacts_import(
        merchant=merchant,
        actor=actor,
        rows=[row for row, _k, _v in parsed],
        seen=seen,
        dry_run=dry_run,
    )
    for (row, key, values), done in zip(parsed, decided, strict=True):
        phone = values.get("phone") or ""
        if done.outcome == RowOutcome.ERROR:
            # A duplicate keeps its phone, as a row that repeats another did before.
            outcomes[row.number] = Outcome(
                RowOutcome.ERROR,
                done.message,
                key,
                phone=phone if done.duplicate_of else "",
                reason_code=done.code,
                reason_params=done.params,
            )
            continue
        outcome = Outcome(
            done.outcome, done.message, key, done.contact, values.get("points", 0), phone
        )
        if outcome.points and not dry_run and done.contact is not None:
            try:
                _opening_balance(
                    batch=batch, contact=done.contact, points=outcome.points, key=key, actor=actor
                )
            except PatronError as exc:
                outcome = Outcome(
                    RowOutcome.ERROR,
                    exc.message,
                    key,
                    reason_code=exc.code,
                    reason_params={"field": exc.field} if exc.field else {},
                )
        outcomes[row.number] = outcome
    return outcomes


@transaction.atomic
def _opening_balance(
    *, batch: ImportBatch, contact: Contact, points: int, key: str, actor: Actor
) -> None:
    merchant = batch.merchant
    from patron.loyalty import services as loyalty
    from patron.loyalty.models import MemberStatus

    member = loyalty.member_ensure(merchant=merchant, contact=contact, actor=actor)
    if member.status != MemberStatus.ACTIVE:
        # A customer who arrives with a balance was a member of the old program.
        member = loyalty.member_activate(
            merchant=merchant, member=member, actor=actor, reason="Imported with a balance"
        )
    digest = hashlib.sha256(f"{key}:{points}".encode()).hexdigest()[:32]
    loyalty.points_give(
        merchant=merchant,
        member=member,
        amount=points,
        actor=actor,
        reason="Opening balance",
        source="import",
        reference=f"import {batch.pk}",
        idempotency_key=f"import-balance:{digest}",
    )


# --- runs ------------------------------------------------------------------------------


def _count(batch: ImportBatch, dry_run: bool) -> dict[str, int]:
    counts = Counter(
        ImportRow.objects.filter(batch=batch, dry_run=dry_run).values_list("outcome", flat=True)
    )
    return {outcome: counts.get(outcome, 0) for outcome in RowOutcome.values}


# A concurrent writer can take a phone between the read and the insert; the batch is
# then decided again, and the second time finds that contact.
ATTEMPTS = 3


def _run_batch(
    batch_id: int, merchant: Merchant, rows: list[tuple[int, dict[str, str]]], dry_run: bool
) -> ImportBatch:
    with transaction.atomic():
        batch = _get(merchant, batch_id)
        actor = batch.actor
        done = set(
            ImportRow.objects.filter(
                batch=batch, dry_run=dry_run, row_number__in=[n for n, _raw in rows]
            ).values_list("row_number", flat=True)
        )
        todo = [(number, raw) for number, raw in rows if number not in done]
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    outcomes = _outcomes(batch, todo, dry_run=dry_run, actor=actor)
                break
            except IntegrityError:
                if attempt == ATTEMPTS:
                    raise
        bulk_insert(
            [
                ImportRow(
                    merchant=merchant,
                    batch=batch,
                    dry_run=dry_run,
                    row_number=number,
                    outcome=outcome.outcome,
                    message=outcome.message[:500],
                    reason_code=outcome.reason_code,
                    reason_params=outcome.reason_params,
                    natural_key=outcome.natural_key[:200],
                    phone=outcome.phone,
                    contact=outcome.contact
                    if not dry_run and outcome.outcome != RowOutcome.ERROR
                    else None,
                    points=outcome.points,
                )
                for number, outcome in sorted(outcomes.items())
            ]
        )
        last = rows[-1][0]
        if dry_run:
            batch.checked_rows = max(batch.checked_rows, last)
        else:
            batch.imported_rows = max(batch.imported_rows, last)
        batch.heartbeat_at = timezone.now()
        batch.save(update_fields=["checked_rows", "imported_rows", "heartbeat_at"])
    return batch


def import_run(
    *,
    merchant: Merchant,
    batch_id: int,
    progress: Callable[[ImportBatch], None] | None = None,
) -> ImportBatch:
    """Run (or resume) the started run of a batch to its end, one committed batch at a time."""
    batch = ImportBatch.objects.get(merchant=merchant, pk=batch_id)
    if batch.status not in {ImportStatus.CHECKING, ImportStatus.IMPORTING}:
        return batch
    dry_run = batch.status == ImportStatus.CHECKING
    skip = batch.checked_rows if dry_run else batch.imported_rows
    chunk: list[tuple[int, dict[str, str]]] = []
    try:
        with statements_planned_each_time():
            for number, raw in read_rows(batch.file_path, skip=skip):
                chunk.append((number, raw))
                if len(chunk) >= BATCH_SIZE:
                    batch = _run_batch(batch_id, merchant, chunk, dry_run)
                    chunk = []
                    if progress:
                        progress(batch)
            if chunk:
                batch = _run_batch(batch_id, merchant, chunk, dry_run)
    except OSError as exc:
        ImportBatch.objects.filter(pk=batch_id).update(
            status=ImportStatus.FAILED, error=str(exc)[:500]
        )
        raise
    with transaction.atomic():
        batch = _get(merchant, batch_id)
        mode = "dry_run" if dry_run else "import"
        batch.counts = {**batch.counts, mode: _count(batch, dry_run)}
        if dry_run:
            batch.checked_rows = batch.total_rows
            batch.status = ImportStatus.CHECKED
        else:
            batch.imported_rows = batch.total_rows
            batch.status = ImportStatus.FINISHED
            batch.finished_at = timezone.now()
        batch.save()
    if progress:
        progress(batch)
    return batch


def imports_resume() -> int:
    """Periodic safety net: restart the runs whose job was lost (a worker died).

    A live run touches its heartbeat every batch; one silent for STALE_RUN is resumed.
    """
    from django_scopes import scope, scopes_disabled

    with scopes_disabled():
        running = list(
            ImportBatch.objects.filter(
                status__in=[ImportStatus.CHECKING, ImportStatus.IMPORTING],
                heartbeat_at__lt=timezone.now() - STALE_RUN,
            ).select_related("merchant")
        )
    for batch in running:
        with scope(merchant=batch.merchant):
            import_run(merchant=batch.merchant, batch_id=batch.pk)
    return len(running)


@transaction.atomic
def import_undo(*, merchant: Merchant, batch: ImportBatch, actor: Actor) -> int:
    """Delete the contacts this batch created (soft delete, with the batch in the reason).

    Contacts it only updated keep their current values; the rows say what changed.
    """
    batch = _get(merchant, batch.pk)
    if batch.status != ImportStatus.FINISHED:
        raise ImportBusy("Only a finished import can be undone.")
    created = ImportRow.objects.filter(
        batch=batch, dry_run=False, outcome=RowOutcome.CREATED, contact__isnull=False
    ).select_related("contact")
    undone = 0
    for row in created.iterator(chunk_size=BATCH_SIZE):
        assert row.contact is not None
        if row.contact.deleted_at is None:
            contacts.contact_delete(
                merchant=merchant,
                contact=row.contact,
                actor=actor,
                reason=f"Import {batch.pk} ({batch.file_name}) undone",
            )
            undone += 1
    batch.status = ImportStatus.UNDONE
    batch.save(update_fields=["status"])
    return undone
