"""Reads that a batch of writes shares: a merchant's settings read once per batch.

A workflow chunk gives points to 25 members and texts 25 others in one transaction, and
every one of those calls reads the same loyalty program, tiers and channel settings. A
selector that such a batch calls often asks `remembered` for its row instead of the
database; outside a `shared_reads` block it reads every time, as before.

Only settings belong here, and only for a block whose writes do not change them: a copy
remembered at the start of the block is what every call inside it sees.
"""

import contextvars
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

_memo: contextvars.ContextVar[dict[Hashable, object] | None] = contextvars.ContextVar(
    "shared_reads", default=None
)


@contextmanager
def shared_reads() -> Iterator[None]:
    """Inside this block, `remembered` reads each key once."""
    if _memo.get() is not None:
        yield  # an enclosing block already shares them
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def sharing() -> bool:
    """Is this inside a `shared_reads` block? (For a selector that reads differently
    when its rows are shared: all of them once rather than the one it needs each time.)"""
    return _memo.get() is not None


def remembered[T](key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, or what it returned for `key` earlier in the same `shared_reads` block."""
    memo = _memo.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]  # type: ignore[return-value]
