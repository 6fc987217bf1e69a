"""The state of who may do what: SSH keys (authorized_keys is rendered from them), users and their roles, who may
use which app, and each user's quotas."""

import time

from ponton.core.errors import InvalidInput, NotFound
from ponton.core.state.apps import app_id_of, app_record
from ponton.core.state.records import SshKey, User, from_record
from ponton.core.state.transactions import Transactions, changes, reads


class Users(Transactions):
    # ssh keys: the state is the truth, authorized_keys is rendered from it

    @reads
    def ssh_keys(self, tx) -> list[SshKey]:
        keys = [from_record(SshKey, record) for record in tx.scan("ssh_keys")]
        return sorted(keys, key=lambda key: (key.name, key.created))

    @changes
    def add_ssh_key(self, tx, name: str, fingerprint: str, key: str, role: str | None = None) -> str:
        """Add a key of user `name` and return the user's role: `role` if given, else the role they have,
        else admin for the very first user and user for everyone after."""
        owner = tx.get("ssh_keys", (fingerprint,))
        if owner is not None:
            raise InvalidInput(f"this key is already added, as {owner['name']}")
        tx.put("ssh_keys", {"fingerprint": fingerprint, "name": name, "key": key, "created": time.time()})
        user = tx.get("users", (name,))
        if user is None:
            first = not tx.scan("users", limit=1)
            user = {"name": name, "role": role or ("admin" if first else "user"), "created": time.time()}
        elif role:
            user = {**user, "role": role}
        tx.put("users", user)
        return user["role"]

    @changes
    def remove_ssh_keys(self, tx, name: str):
        keys = tx.scan("ssh_keys", where={"name": name})
        if not keys:
            raise NotFound(f"no ssh key named {name}")
        for key in keys:
            tx.delete("ssh_keys", (key["fingerprint"],))

    # users: a role each (their keys come and go; the role and what they own stay)

    @reads
    def role(self, tx, user: str) -> str | None:
        record = tx.get("users", (user,))
        return None if record is None else record["role"]

    @reads
    def users(self, tx) -> list[User]:
        return [from_record(User, record) for record in tx.scan("users")]

    def require_user(self, user: str):
        if self.role(user) is None:
            raise NotFound(f"no user named {user} (ponton ssh-keys:list)")

    # who may use an app: its owner and the users it was granted to (admins may use every app)

    @reads
    def owned_apps(self, tx, user: str) -> list[str]:
        return sorted(record["name"] for record in tx.scan("apps", where={"owner": user}))

    @reads
    def granted(self, tx, name: str) -> list[str]:
        return [record["user"] for record in tx.scan("app_access", (app_id_of(tx, name),))]

    @reads
    def has_access(self, tx, name: str, user: str) -> bool:
        app = app_record(tx, name)
        return app["owner"] == user or tx.get("app_access", (app["id"], user)) is not None

    @changes
    def set_access(self, tx, name: str, user: str, allowed: bool):
        app_id = app_id_of(tx, name)
        if allowed:
            tx.put("app_access", {"app_id": app_id, "user": user})
        else:
            tx.delete("app_access", (app_id, user))

    # quotas per user: what quota:set stored (a missing key falls back to the server default)

    @reads
    def quotas(self, tx, user: str) -> dict[str, str]:
        return {record["key"]: record["value"] for record in tx.scan("quotas", (user,))}

    @changes
    def set_quotas(self, tx, user: str, values: dict[str, str | None]):
        for key, value in values.items():
            tx.delete("quotas", (user, key))
            if value is not None:
                tx.put("quotas", {"user": user, "key": key, "value": value})
