"""Change, apply, undo: a command records a change, applies it to what runs (a rollout, a new routing), and if
applying fails, puts the record back, so that the state always says what serves. One helper for all of them."""

import contextlib
from collections.abc import Callable


@contextlib.contextmanager
def undone_on_failure(undo: Callable[[], object]):
    """Run the block; if it fails (Ctrl-C included), run `undo` and let the failure go on."""
    try:
        yield
    except BaseException:
        undo()
        raise
