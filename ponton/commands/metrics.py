"""metrics: CPU, memory, restarts, requests, responses by status class and latency of an app."""

import time

import click

from ponton.features import history as app_history
from ponton.features import metrics as app_metrics
from ponton.output import WholeNumber, app_argument, emit, format_option, pass_ponton, table, when

HEADERS = ["instance", "state", "cpu", "memory", "restarts", "req/s", "requests", "2xx", "3xx", "4xx", "5xx",
           "p50", "p90", "p99"]


@click.command("metrics")
@app_argument()
@click.option("--window", type=WholeNumber(1, 86_400), default=60, show_default=True,
              help="Seconds of requests to count (from the proxy's access log).")
@format_option
@pass_ponton
def metrics(p, app, window, fmt):
    """Show APP's numbers per instance and process type: CPU, memory, restarts (now), and requests per second,
    responses by status class and latency percentiles (over the last --window seconds)."""
    p.state.app_id(app)
    data = app_metrics.snapshot(p, app, window)
    rows = [_row(r["instance"], r) for r in data["instances"]]
    rows += [_row(f"{r['process']} (all)", r) for r in data["processes"]]
    rows.append(_row("app (all)", {"state": "", "cpu_percent": None, "memory_bytes": None, "restarts": "",
                                   **data["total"]}))
    emit(fmt, data, f"last {window}s of requests\n" + table(rows, HEADERS))


@click.command("metrics:history")
@app_argument()
@click.option("--minutes", type=WholeNumber(1, int(app_history.KEEP // 60)), default=60, show_default=True,
              help="How far back.")
@format_option
@pass_ponton
def history(p, app, minutes, fmt):
    """Show APP's requests per second, latency (p50, p99), CPU and memory over the last --minutes, one sample
    each web_sample_interval seconds, as the dashboard plots them (`ponton web` takes the samples)."""
    created = p.state.app(app).created
    points = app_history.history(p.settings, app, max(created, time.time() - minutes * 60))
    rows = [[when(r["time"]), f"{r['rps']:g}", _ms(r["p50_ms"]), _ms(r["p99_ms"]), _percent(r["cpu_percent"]),
             _memory(r["memory_bytes"], None), r["instances"]] for r in points]
    text = table(rows, ["time", "req/s", "p50", "p99", "cpu", "memory", "instances"]) if rows else \
        f"no samples of {app} in the last {minutes} minutes (`ponton web` takes them)"
    emit(fmt, {"app": app, "interval_seconds": p.settings.web_sample_interval, "points": points}, text)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}ms"


def _row(name: str, r: dict) -> list:
    latency = [f"{v:.1f}ms" if v is not None else "-" for v in r["latency_ms"].values()]
    return [name, r.get("state", ""), _percent(r["cpu_percent"]), _memory(r["memory_bytes"], r.get("memory_limit_bytes")),
            r["restarts"], f"{r['rps']:g}", r["requests"], *(r["responses"][c] for c in ("2xx", "3xx", "4xx", "5xx")),
            *latency]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _memory(used: int | None, limit: int | None) -> str:
    if used is None:
        return "-"
    return f"{used / 2**20:.1f}M" + (f"/{limit / 2**20:.0f}M" if limit else "")


COMMANDS = [metrics, history]
