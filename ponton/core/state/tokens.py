"""The web face's secrets: API tokens, one-time login links and browser sessions, each kept only as the SHA-256 of
its secret, with its user (None: the server itself) and when it expires."""

import time

from ponton.core.errors import InvalidInput, NotFound
from ponton.core.state.records import Token, from_record
from ponton.core.state.transactions import Transactions, changes, reads


class Tokens(Transactions):
    @changes
    def add_token(self, tx, kind: str, user: str | None, name: str, digest: str, expires: float, limit: int):
        """Keep a secret's hash; refused if `user` has `limit` live ones of `kind` already, or an API token of
        that name. Expired secrets, everyone's, are forgotten first."""
        now, live = time.time(), []
        for record in tx.scan("tokens"):
            if record["expires"] <= now:
                tx.delete("tokens", (record["hash"],))
            elif (record["kind"], record["user"]) == (kind, user):
                live.append(record)
        if kind == "api" and any(record["name"] == name for record in live):
            raise InvalidInput(f"a token named {name} exists already: revoke it first (tokens:revoke {name})")
        if len(live) >= limit:
            raise InvalidInput(f"at most {limit} live {kind} tokens per user: revoke some first")
        tx.put("tokens", {"hash": digest, "kind": kind, "user": user, "name": name, "created": now, "expires": expires})

    @reads
    def token(self, tx, kind: str, digest: str) -> Token | None:
        """The live secret of `kind` with this hash, or None."""
        record = tx.get("tokens", (digest,))
        if record is None or record["kind"] != kind or record["expires"] <= time.time():
            return None
        return from_record(Token, record)

    @changes
    def take_token(self, tx, kind: str, digest: str) -> Token | None:
        """The same, used up in the same transaction (a one-time link works once, even for two requests at once)."""
        found = self.token(kind, digest)
        if found is not None:
            tx.delete("tokens", (digest,))
        return found

    @reads
    def tokens(self, tx, kind: str) -> list[Token]:
        found = [from_record(Token, record) for record in tx.scan("tokens", where={"kind": kind})]
        return sorted((t for t in found if t.expires > time.time()), key=lambda t: (t.user or "", t.name))

    @changes
    def remove_token(self, tx, kind: str, user: str | None, name: str):
        found = [r for r in tx.scan("tokens", where={"kind": kind, "name": name}) if r["user"] == user]
        if not found:
            raise NotFound(f"no token named {name}" + (f" of user {user}" if user else ""))
        for record in found:
            tx.delete("tokens", (record["hash"],))

    @changes
    def remove_user_tokens(self, tx, user: str):
        """Forget every secret of `user` (their keys were removed: they are locked out of the web too)."""
        for record in tx.scan("tokens", where={"user": user}):
            tx.delete("tokens", (record["hash"],))
