"""The state of autoscaling: a policy per app and process type (ps:autoscale), with the last decision on it."""

from ponton.core.state.apps import app_id_of, app_name_of
from ponton.core.state.records import Autoscale, from_record
from ponton.core.state.storage import Record
from ponton.core.state.transactions import Transactions, changes, reads

POLICY = ("minimum", "maximum", "rps", "cpu", "latency_p90", "cooldown", "interval")


def _record(tx, record: Record) -> Autoscale:
    return from_record(Autoscale, record, app=app_name_of(tx, record["app_id"]))


class Autoscaling(Transactions):
    @reads
    def autoscale_policies(self, tx, name: str | None = None) -> list[Autoscale]:
        """The processes under autoscaling: of app `name`, or of every app (None)."""
        found = tx.scan("autoscale", () if name is None else (app_id_of(tx, name),))
        return [_record(tx, record) for record in found]

    @changes
    def set_autoscale(self, tx, name: str, process: str, policy: dict | None):
        """Autoscale `process` of app `name` by `policy` (the fields of POLICY; None: stop autoscaling it). A
        new policy starts without a decision; a changed one keeps the time of the last change (its cooldown)."""
        app_id = app_id_of(tx, name)
        previous = tx.get("autoscale", (app_id, process))
        if policy is None:
            tx.delete("autoscale", (app_id, process))
            return
        kept = {"last_change": None, "desired": None, "reason": "", "decided": None} if previous is None else {
            key: previous[key] for key in ("last_change", "desired", "reason", "decided")}
        tx.put("autoscale", {"app_id": app_id, "process": process, **{k: policy[k] for k in POLICY}, **kept})

    @changes
    def record_autoscale_decision(self, tx, name: str, process: str, desired: int, reason: str, decided: float,
                                  changed: bool):
        """What the watchdog decided at `decided`; `changed`: it changed the count then (the cooldown starts)."""
        key = (app_id_of(tx, name), process)
        record = tx.get("autoscale", key)
        if record is None:  # turned off meanwhile
            return
        tx.put("autoscale", {**record, "desired": desired, "reason": reason, "decided": decided,
                             "last_change": decided if changed else record["last_change"]})
