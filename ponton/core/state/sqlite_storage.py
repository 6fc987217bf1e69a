"""The one-server store: one SQLite file in WAL mode, a table per collection, a schema version with migrations,
every change one transaction that holds the database's write lock from its start."""

import contextlib
import sqlite3
from pathlib import Path

from ponton.core.state.migrations import MIGRATIONS
from ponton.core.state.storage import COLLECTIONS, Key, Record, check


def _as_dict(cursor: sqlite3.Cursor, row: tuple) -> Record:
    return {column[0]: value for column, value in zip(cursor.description, row)}


class SqliteStorage:
    def __init__(self, state_dir: Path):
        state_dir.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(state_dir / "ponton.db", timeout=30, isolation_level=None)
        self._transaction: object | None = None  # the open one's token (_begun)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self):
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number}")

    @contextlib.contextmanager
    def reading(self):
        # A deferred transaction: its reads see one snapshot; in WAL mode it neither waits for nor blocks a writer.
        with self._begun("BEGIN"):
            yield self

    @contextlib.contextmanager
    def transaction(self):
        # IMMEDIATE takes the write lock at once, so what the transaction reads stays true until it commits: it
        # never conflicts, it waits (up to the connection's timeout) for the writer before it.
        with self._begun("BEGIN IMMEDIATE"):
            yield self

    @contextlib.contextmanager
    def _begun(self, begin: str):
        # Everything inside the try: a signal turned into KeyboardInterrupt (ponton.core.interrupt) may come between
        # any two statements, and a transaction left open would refuse every later one on this connection.
        # One that came right after the yield, before the caller's `with` block began, skips this block's exit:
        # that transaction, never committed, stays open (the traceback keeps this generator alive), and the next
        # one rolls it back. When the generator is collected at last, it must not roll back a later transaction:
        # each rolls back only its own.
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        own = self._transaction = object()
        try:
            self.db.execute(begin)
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self._transaction is own and self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        finally:
            if self._transaction is own:
                self._transaction = None

    def close(self):
        self._transaction = None
        self.db.close()

    # Reader and Writer: the SQL is built from COLLECTIONS only (names we declare), every value is a parameter.

    def get(self, collection: str, key: Key) -> Record | None:
        declared = COLLECTIONS[collection]
        if len(key) != len(declared.key):
            raise ValueError(f"a key of {collection} has the fields {', '.join(declared.key)}")
        found = self.scan(collection, key, limit=1)
        return found[0] if found else None

    def scan(self, collection: str, prefix: Key = (), *, where: Record | None = None, reverse: bool = False,
             limit: int | None = None) -> list[Record]:
        declared = COLLECTIONS[collection]
        equal = {**dict(zip(declared.key, prefix, strict=False)), **(where or {})}
        if len(prefix) > len(declared.key) or not set(equal) <= set(declared.columns):
            raise ValueError(f"{collection} has the key {', '.join(declared.key)} and the fields "
                             f"{', '.join(declared.fields)}")
        order = ", ".join(f"{column} DESC" if reverse else column for column in declared.key)
        sql = f"SELECT {', '.join(declared.columns)} FROM {collection}{_where(equal)} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        cursor = self.db.cursor()
        cursor.row_factory = _as_dict
        return cursor.execute(sql, tuple(equal.values())).fetchall()

    def put(self, collection: str, record: Record):
        declared = check(collection, record)
        columns = declared.columns
        update = (f"UPDATE SET {', '.join(f'{field} = excluded.{field}' for field in declared.fields)}"
                  if declared.fields else "NOTHING")
        self.db.execute(f"INSERT INTO {collection} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                        f"ON CONFLICT ({', '.join(declared.key)}) DO {update}",
                        tuple(record[column] for column in columns))

    def delete(self, collection: str, prefix: Key):
        declared = COLLECTIONS[collection]
        if len(prefix) > len(declared.key):
            raise ValueError(f"a key of {collection} has the fields {', '.join(declared.key)}")
        equal = dict(zip(declared.key, prefix, strict=False))
        self.db.execute(f"DELETE FROM {collection}{_where(equal)}", tuple(equal.values()))


def _where(equal: Record) -> str:
    # IS: equal, None included (a field that is NULL equals None), as a store comparing values in Python has it.
    return f" WHERE {' AND '.join(f'{column} IS ?' for column in equal)}" if equal else ""
