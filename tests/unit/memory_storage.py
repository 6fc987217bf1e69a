"""A store in memory that commits the way etcd does, to prove that the storage interface is enough for one: every
key has the revision of its last change; a transaction reads a snapshot taken at one revision, keeps what it
read (each key with the revision it saw, each scanned range), and commits only if none of it changed since
(a compare-and-swap, as one etcd Txn does), else raises Conflict and applies nothing."""

import contextlib
import threading
from collections.abc import Callable

from ponton.core.state.storage import COLLECTIONS, Conflict, Key, Record, check

Entry = tuple[str, Key]  # (collection, key)


class MemoryStorage:
    def __init__(self):
        self._lock = threading.Lock()
        self.revision = 0
        self.data: dict[Entry, tuple[Record, int]] = {}  # the record and the revision of its last change
        self.commits = self.conflicts = 0
        self.before_commit: Callable[[], None] | None = None  # a test's way to change the store under a transaction

    @contextlib.contextmanager
    def reading(self):
        with self._lock:
            snapshot = dict(self.data)
        yield _Transaction(snapshot, writable=False)

    @contextlib.contextmanager
    def transaction(self):
        with self._lock:
            tx = _Transaction(dict(self.data), writable=True)
            started = self.revision
        yield tx
        if self.before_commit is not None:
            self.before_commit()
        with self._lock:
            changed = any((self.data[entry][1] if entry in self.data else 0) != seen
                          for entry, seen in tx.seen.items())
            changed = changed or any(collection == c and key[:len(prefix)] == prefix and revision > started
                                     for (c, key), (_, revision) in self.data.items()
                                     for collection, prefix in tx.ranges)
            if changed:
                self.conflicts += 1
                raise Conflict("what the transaction read changed")
            if tx.writes:
                self.revision += 1
                for entry, record in tx.writes.items():
                    if record is None:
                        self.data.pop(entry, None)
                    else:
                        self.data[entry] = (record, self.revision)
            self.commits += 1

    def close(self):
        pass


class _Transaction:
    def __init__(self, snapshot: dict[Entry, tuple[Record, int]], writable: bool):
        self.base, self.writable = snapshot, writable
        self.view = {entry: record for entry, (record, _) in snapshot.items()}  # with this transaction's writes
        self.seen: dict[Entry, int] = {}  # what it read of the store: each key's revision then (0: absent)
        self.ranges: list[tuple[str, Key]] = []  # (collection, prefix) it scanned
        self.writes: dict[Entry, Record | None] = {}  # None: deleted

    def _saw(self, entry: Entry):
        if entry not in self.writes:
            self.seen.setdefault(entry, self.base[entry][1] if entry in self.base else 0)

    def get(self, collection: str, key: Key) -> Record | None:
        assert len(key) == len(COLLECTIONS[collection].key), key
        self._saw((collection, key))
        record = self.view.get((collection, key))
        return None if record is None else dict(record)

    def scan(self, collection: str, prefix: Key = (), *, where: Record | None = None, reverse: bool = False,
             limit: int | None = None) -> list[Record]:
        found = self._range(collection, prefix)
        records = [dict(self.view[entry]) for entry in found
                   if all(self.view[entry][field] == value for field, value in (where or {}).items())]
        if reverse:
            records.reverse()
        return records[:limit]

    def _range(self, collection: str, prefix: Key) -> list[Entry]:
        """The entries under `prefix`, in key order; the range and each of them count as read."""
        assert len(prefix) <= len(COLLECTIONS[collection].key), prefix
        self.ranges.append((collection, prefix))
        found = sorted(((c, key) for c, key in self.view if c == collection and key[:len(prefix)] == prefix),
                       key=lambda entry: entry[1])
        for entry in found:
            self._saw(entry)
        return found

    def put(self, collection: str, record: Record):
        assert self.writable, "a write in a read"
        entry = (collection, check(collection, record).key_of(record))
        self.view[entry] = self.writes[entry] = dict(record)

    def delete(self, collection: str, prefix: Key):
        """As an etcd store would: the keys it finds under `prefix` are deleted one by one (one Txn may not
        delete a range and put a key in it), and the range counts as read, so that a key put there meanwhile is
        a conflict rather than a survivor."""
        assert self.writable, "a write in a read"
        for entry in self._range(collection, prefix):
            del self.view[entry]
            self.writes[entry] = None
