"""postgres:*: PostgreSQL databases that apps link to (DATABASE_URL), named as Dokku's postgres plugin names them
(docs/services.md). A kind of backing service (plugins/services) on Debian's PostgreSQL; backups are pg_dump's
custom format (compressed), restored by pg_restore in one transaction."""

from pathlib import Path

from plugins.services import Kind, container, hooks
from plugins.services.commands import build
from ponton.core.errors import PontonError

RESTORE_DIR = "/run/postgresql"  # the postgres user's: it removes the dump it restored from


def _environment(name: str, password: str, memory: int | None) -> dict:
    return {"POSTGRES_PASSWORD": password, "POSTGRES_DB": name}


def _restore(settings, running, name: str, path: Path):
    """pg_restore in one transaction: a restore that fails leaves the data as it was. Objects the backup has are
    dropped first and made again; anything newer than the backup stays."""
    container.put(running, RESTORE_DIR, "restore.dump", path)
    try:
        code, output = container.run(running, [
            "pg_restore", "--clean", "--if-exists", "--single-transaction", "--exit-on-error", "--no-owner",
            "--username=postgres", f"--dbname={name}", f"{RESTORE_DIR}/restore.dump"])
    finally:
        container.run(running, ["rm", "-f", f"{RESTORE_DIR}/restore.dump"])
    if code != 0:
        last = [line for line in output.splitlines() if line.strip()]
        raise PontonError(f"pg_restore failed, the data is as it was: {last[-1] if last else f'exit code {code}'}")


KIND = Kind(
    name="postgres", title="Postgres", variable="DATABASE_URL", scheme="postgres", user="postgres", port=5432,
    data_dir="/var/lib/postgresql/data", image_dir=Path(__file__).parent / "image", memory="512m",
    environment=_environment,
    health=("pg_isready", "--quiet", "--timeout=3", "--host=127.0.0.1"),  # over TCP, as the apps connect
    backup=lambda name: ["pg_dump", "--format=custom", "--username=postgres", f"--dbname={name}"],
    suffix=".dump", compress=False, restore=_restore, database=True,
)


plugin = hooks.ServicePlugin(KIND, build)
