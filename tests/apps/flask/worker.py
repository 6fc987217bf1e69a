"""A background worker: one line a second, so that its output shows in `ponton logs`."""

import time

while True:
    print("worker tick", flush=True)
    time.sleep(1)
