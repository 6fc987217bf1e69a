"""Flask test app: served by gunicorn, ponton's default `web` for a Python app that requires it.

GET /      -> "flask says hello"
GET /exit  -> the worker exits with code 3 while serving the request: gunicorn's master takes that for a worker
              that cannot boot and stops, so the whole instance dies (one poisoned request)
"""

import os

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "flask says hello\n"


@app.get("/exit")
def exit_now():
    os._exit(3)
