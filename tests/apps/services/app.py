"""A test app for backing services: a row in Postgres through DATABASE_URL, a counter in Redis through REDIS_URL.

GET /              -> "services app: postgres=yes|no redis=yes|no" (which of the two it was given)
GET /write?text=T  -> inserts T into the table notes (made if missing)
GET /read          -> the rows of notes, one a line, sorted
GET /drop          -> drops the table notes
GET /incr          -> increments the counter in Redis, answers its new value
GET /counter       -> the counter's value (0 if it was never incremented)
Each request opens its own connections, so that a restarted service is reached again at once.
"""

import os
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import redis


def postgres():
    return psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=5, autocommit=True)


def cache():
    return redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)


def answer(path: str, query: dict) -> str:
    if path == "/":
        given = {name: "yes" if os.environ.get(var) else "no" for name, var in
                 (("postgres", "DATABASE_URL"), ("redis", "REDIS_URL"))}
        return f"services app: postgres={given['postgres']} redis={given['redis']}"
    if path == "/write":
        with postgres() as db:
            db.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT NOT NULL)")
            db.execute("INSERT INTO notes VALUES (%s)", (query["text"][0],))
        return "ok"
    if path == "/read":
        with postgres() as db:
            return "\n".join(row[0] for row in db.execute("SELECT text FROM notes ORDER BY text"))
    if path == "/drop":
        with postgres() as db:
            db.execute("DROP TABLE notes")
        return "dropped"
    if path == "/incr":
        return str(cache().incr("counter"))
    if path == "/counter":
        return (cache().get("counter") or b"0").decode()
    raise KeyError(path)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        try:
            status, body = 200, answer(url.path, urllib.parse.parse_qs(url.query))
        except KeyError:
            status, body = 404, "not found"
        except Exception as e:  # the test reads what went wrong
            status, body = 500, f"{type(e).__name__}: {e}"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
