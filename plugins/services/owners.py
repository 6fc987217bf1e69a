"""Who may do what with a service (docs/services.md). It belongs to the user who created it (on the server
itself: to no one, i.e. to the admins), as an app does:

- its owner and the admins may do everything with it: link it, restore it, schedule its backups, destroy it;
- a user who may use an app linked to it may use it too, as the app does: see it (list, info: the URL the app
  has anyway), back it up, list its backups, see its events, and unlink it from that app;
- anyone else gets "access denied", recorded in its events, and does not see it in the listing.

The commands check this themselves under the service's lock (access.checks_own_access); an APP argument is
checked as for every command (the user must be allowed to use that app).
"""

from plugins.services import Kind
from ponton import api
from ponton.core.state import Service

USE, MANAGE = "use", "manage"


def may(p, kind: Kind, row: Service, level: str) -> bool:
    user = p.remote_user
    if api.is_admin(p) or (user is not None and row.owner == user):
        return True
    return level == USE and any(p.state.has_access(app, user) for app in p.state.service_links(kind.name, row.name))


def require(p, kind: Kind, name: str, level: str, command: str) -> Service:
    """The service's record if the acting user may run `command` on it; else AccessDenied, recorded."""
    row = p.state.service(kind.name, name)
    if not may(p, kind, row, level):
        reason = (f"only the owner of {kind.name} service {name} or an admin may run {command} (user {p.remote_user})"
                  if level == MANAGE else f"user {p.remote_user} has no access to {kind.name} service {name} ({command})")
        p.state.add_service_event(kind.name, name, p.user, "denied", reason)
        api.deny(p, None, reason)
    return row


def visible(p, kind: Kind) -> list[Service]:
    """The services of `kind` the acting user may see."""
    return [row for row in p.state.services(kind.name) if may(p, kind, row, USE)]
