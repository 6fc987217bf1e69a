"""What the instances of every scheduler here have in common (the interface: ponton/core/scheduler.py)."""

from runtime import spec


class InstanceBase:
    """One instance is one id, whichever listing it came from (a rollout keys the proxy's weights by instance);
    its web port is the one its container port 5000 is published on, reached at its host."""

    def __eq__(self, other) -> bool:
        return isinstance(other, InstanceBase) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def port(self) -> int | None:
        """The port the web port is published on, or None when not running."""
        return self.published(f"{spec.CONTAINER_PORT}/tcp")

    @property
    def address(self) -> str | None:
        return f"{self.host}:{self.port}" if self.port else None
