"""How the state's domain methods run: each in one storage transaction (a read: in one consistent snapshot), which
the domain methods it calls join, run again from the start when the store reports a conflict."""

import functools
from collections.abc import Callable
from typing import TypeVar

from ponton.core.errors import PontonError
from ponton.core.state.storage import Conflict, Reader, Storage, Writer

T = TypeVar("T")
# An etcd store conflicts when another manager changed what a transaction read; a transaction that loses this
# often in a row is up against something that never lets go.
ATTEMPTS = 50


class Transactions:
    def __init__(self, store: Storage):
        self.store = store
        self._open: Reader | Writer | None = None  # what the calls made now run in (a State is one thread's)
        self._writing = False

    def close(self):
        self.store.close()

    def atomically(self, change: Callable[[], T]) -> T:
        """Run `change`, which calls this state's methods, as one transaction: what it read still holds when all
        it wrote is applied; if it raises, nothing is. It may run more than once (a conflict in a replicated
        store runs it again), so it must do nothing but read and write the state. Returns what it returns."""
        return self._change(lambda tx: change())

    def _change(self, change: Callable[[Writer], T]) -> T:
        if self._open is not None:
            if not self._writing:
                raise RuntimeError("a change of the state inside a read of it")
            return change(self._open)
        for _ in range(ATTEMPTS):
            try:
                with self.store.transaction() as tx:
                    self._open, self._writing = tx, True
                    try:
                        return change(tx)
                    finally:
                        self._open, self._writing = None, False
            except Conflict:
                continue
        raise PontonError(f"the state changed under this change {ATTEMPTS} times in a row: try again")

    def _read(self, read: Callable[[Reader], T]) -> T:
        if self._open is not None:
            return read(self._open)
        with self.store.reading() as reader:
            self._open = reader
            try:
                return read(reader)
            finally:
                self._open = None


def changes(method):
    """A domain method `method(self, tx, ...)` that writes, called as `method(self, ...)`: one transaction."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        return self._change(lambda tx: method(self, tx, *args, **kwargs))
    return run


def reads(method):
    """A domain method `method(self, tx, ...)` that only reads, called as `method(self, ...)`: one snapshot."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        return self._read(lambda tx: method(self, tx, *args, **kwargs))
    return run
