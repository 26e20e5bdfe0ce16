"""Django's SQLite backend with writers that queue for their turn instead of sleeping.

SQLite lets one transaction write at a time. A writer that finds the lock taken waits in
SQLite's busy handler, which sleeps and tries again, longer each time (1 ms at first, up
to 100 ms a try). With the web processes' threads and the workers all writing, most of
them are asleep when the lock comes free: the cores sat idle about 45% of a give-points
load while requests waited.

Every transaction here starts with `BEGIN IMMEDIATE` (settings.py), so this backend
takes an exclusive `flock` on a file beside the database just before it, and lets go
after `COMMIT` or `ROLLBACK`. The kernel wakes the next waiter the moment the lock is
free, whichever process or thread it is in; each connection opens the file itself, so
threads of one process queue as processes do. The lock belongs to the open file: if a
process dies in a transaction, the kernel frees it with the file.

SQLite's own lock stays the one that keeps the data safe. Writers outside this backend
(the `sqlite3` shell, a write outside any transaction) do not queue here and meet the
busy handler as before. A writer here waits its turn for as long as the transactions
before it take, without SQLite's timeout.
"""

import fcntl
import os
from pathlib import Path
from typing import Any

from django.db.backends.sqlite3 import base, creation


def turn_file(database: str) -> Path:
    """The file whose lock is the turn to write to `database`."""
    return Path(f"{database}-writer")


class DatabaseCreation(creation.DatabaseCreation):
    def _destroy_test_db(self, test_database_name: str, verbosity: int) -> None:
        super()._destroy_test_db(test_database_name, verbosity)  # type: ignore[misc]
        if not self.is_in_memory_db(test_database_name):
            turn_file(test_database_name).unlink(missing_ok=True)


# The type stubs leave out the backend's private hooks overridden here ("type: ignore").
class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn_file: int | None = None
        self._turn_file_pid = 0
        self._has_turn = False

    def _start_transaction_under_autocommit(self) -> None:
        self._take_turn()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._end_turn()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]
        finally:
            if not self._in_sqlite_transaction():
                self._end_turn()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]
        finally:
            self._end_turn()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._end_turn()
            if self._turn_file is not None:
                os.close(self._turn_file)
                self._turn_file = None

    def _in_sqlite_transaction(self) -> bool:
        # A COMMIT that failed (SQLITE_BUSY on a reader's snapshot) leaves the
        # transaction open for Django's rollback, which ends the turn.
        return self.connection is not None and self.connection.in_transaction

    def _take_turn(self) -> None:
        if self._has_turn or self.is_in_memory_db():
            return
        if self._turn_file is None or self._turn_file_pid != os.getpid():
            # A process forked with the file open would share its lock with the parent:
            # each process opens its own.
            path = turn_file(self.settings_dict["NAME"])
            self._turn_file = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._turn_file_pid = os.getpid()
        fcntl.flock(self._turn_file, fcntl.LOCK_EX)  # waits, without holding the GIL
        self._has_turn = True

    def _end_turn(self) -> None:
        if self._has_turn and self._turn_file is not None:
            fcntl.flock(self._turn_file, fcntl.LOCK_UN)
        self._has_turn = False
