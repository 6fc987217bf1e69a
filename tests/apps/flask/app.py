"""Flask test app: served by gunicorn, ponton's default `web` for a Python app that requires it."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "flask says hello\n"
