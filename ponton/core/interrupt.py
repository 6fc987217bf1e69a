"""A command that is stopped while it changes an app (SIGTERM from systemd or `kill`, SIGHUP when the terminal or
SSH session that ran it goes away, Ctrl-C) must not die on the spot: half a rollout would stay, the release
"deploying", the old instances stopped. Inside `unwinds()` those signals raise KeyboardInterrupt, as Ctrl-C does,
so every undo on the way out runs (undone_on_failure and the rollout's undo catch it) and the command then ends."""

import contextlib
import signal
import threading

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(number, frame):
    for each in SIGNALS:  # the undo that follows is not itself interrupted by a second signal
        signal.signal(each, signal.SIG_IGN)
    raise KeyboardInterrupt(f"interrupted by {signal.Signals(number).name}")


@contextlib.contextmanager
def unwinds():
    """While the block runs (in the main thread: only it gets signals), SIGTERM and SIGHUP unwind it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {each: signal.signal(each, _interrupt) for each in SIGNALS}
    try:
        yield
    finally:
        for each, handler in previous.items():
            if signal.getsignal(each) is _interrupt:  # not once a signal came: it stays ignored until the end
                signal.signal(each, handler)
