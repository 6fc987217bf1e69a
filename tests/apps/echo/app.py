"""Echo app for ponton's tests.

GET /            -> "GREETING from HOSTNAME" (GREETING from config, "hello" by default)
GET /env/KEY     -> the raw bytes of environment variable KEY, or 404
GET /headers     -> the request's headers as a JSON object (lower-case names)
GET /break       -> from now on every request answers 500 (a health check that starts failing)
GET /crash-loop  -> exit now, and at every start from now on (a crash loop)
GET /exit        -> exit now (a crash: the engine restarts it)
GET /alloc/MB    -> hold MB more megabytes of memory (past a memory limit: killed by the kernel)
GET /sleep/MS    -> answer after MS milliseconds (a known latency)
START_DELAY=S    -> listen only S seconds after starting (an app that is slow to boot)
IGNORE_SIGTERM=1 -> ignore SIGTERM (a stop waits for stop_timeout and SIGKILL)
"""

import json
import os
import signal
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CRASH_MARKER = "/tmp/crash-loop"
broken = False
held = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real app server would

    def do_GET(self):
        global broken
        if self.path == "/crash-loop":
            open(CRASH_MARKER, "w").close()
            os._exit(3)
        if self.path == "/exit":
            os._exit(3)
        broken = broken or self.path == "/break"
        if self.path.startswith("/alloc/"):
            held.append(b"x" * (int(self.path[len("/alloc/"):]) * 2**20))  # written, so really in memory
        if self.path.startswith("/sleep/"):
            time.sleep(int(self.path[len("/sleep/"):]) / 1000)
        status, body = 200, f"{os.environ.get('GREETING', 'hello')} from {socket.gethostname()}\n".encode()
        if self.path == "/headers":
            body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()
        if self.path.startswith("/env/"):
            value = os.environb.get(self.path[len("/env/"):].encode())
            status, body = (404, b"unset\n") if value is None else (200, value)
        if broken:
            status, body = 500, b"broken\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


if os.path.exists(CRASH_MARKER):
    sys.exit("crash loop: exiting at start")
# IGNORE_SIGTERM=1: an app that ignores the stop signal, so only SIGKILL after stop_timeout ends it.
signal.signal(signal.SIGTERM, signal.SIG_IGN if os.environ.get("IGNORE_SIGTERM") else lambda *_: sys.exit(0))
time.sleep(float(os.environ.get("START_DELAY", 0)))
server = ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler)
print(f"listening on {os.environ['PORT']}", flush=True)
server.serve_forever()
