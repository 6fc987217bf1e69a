"""`ponton web`: the web face served by uvicorn on 127.0.0.1:web_port, nginx's vhost for it made at start, and the
samples of every app's numbers taken in a thread beside it."""

import threading

import click
import uvicorn

from ponton.features import history, webhost
from ponton.pipeline import routing
from ponton.web import app


def serve(p):
    routing.route_web(p)
    stop = threading.Event()
    # The scheduler is made here: making it reads the state, whose connection belongs to this thread.
    sampler = threading.Thread(target=_sample, args=(p.settings, p.scheduler, stop), name="sampler", daemon=True)
    sampler.start()
    click.echo(f"-----> Serving {webhost.url(p)} from 127.0.0.1:{p.settings.web_port}")
    try:
        # proxy_headers: the client's address and scheme are those nginx (on 127.0.0.1) passes on.
        uvicorn.run(app.create(p.settings), host="127.0.0.1", port=p.settings.web_port, log_level="warning",
                    proxy_headers=True, forwarded_allow_ips="127.0.0.1", timeout_graceful_shutdown=5)
    finally:
        stop.set()


def _sample(settings, scheduler, stop: threading.Event):
    sampler = history.Sampler(settings, scheduler)
    while not stop.wait(settings.web_sample_interval):
        try:
            sampler.sample()
        except Exception as e:  # an engine that is down for a moment: the next sample comes all the same
            click.echo(f"sampling failed: {type(e).__name__}: {e}", err=True)
