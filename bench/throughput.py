"""3. Requests per second through nginx versus straight to the instance's published loopback port, with `hey`:
for the echo app (Python's http.server, the app is the bottleneck) and for a static site (nginx in the container:
fast enough that the proxy's own cost shows).

Web scale 1 both times, so both runs hit the same single container and only the proxy differs. The two are
interleaved over ROUNDS rounds and averaged: on a small shared machine one run alone drifts by tens of percent."""

import json
import re
import subprocess

from bench.common import APPS, log, ms

DURATION = "5s"
CLIENTS = 16
ROUNDS = 2
TARGET = 0.9
STATIC_TARGET = 0.95


def _hey(port: int, host: str | None, duration: str = DURATION) -> tuple[float, float, str]:
    """Requests/sec, mean latency in seconds, and anything other than 200s (status codes or errors), or ""."""
    args = ["hey", "-z", duration, "-c", str(CLIENTS), *(["-host", host] if host else []), f"http://127.0.0.1:{port}/"]
    output = subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not rate:
        raise RuntimeError(f"no Requests/sec line in hey's output:\n{output}")
    average = float(re.search(r"Average:\s+([\d.]+) secs", output).group(1))
    statuses = re.findall(r"\[(\d{3})\]\s+(\d+) responses", output)
    errors = output.partition("Error distribution:")[2].strip()
    problems = [f"{n} x HTTP {code}" for code, n in statuses if code != "200"] + ([errors] if errors else [])
    return float(rate.group(1)), average, "; ".join(problems)


def run(report, box, app: str, what: str = "", target: float = TARGET):
    box.run("ps:scale", app, "web=1")
    instances = json.loads(box.run("ps:report", app, "--format", "json").stdout)
    direct = next(r["port"] for r in instances if r["instance"] == "web.1")
    host = box.host(app)
    log(f"hey: {ROUNDS} x {DURATION} with {CLIENTS} clients straight to 127.0.0.1:{direct} and through nginx")
    _hey(direct, None, "1s")  # warm-up: the app's threads, nginx's upstream keepalive connections
    _hey(box.http_port, host, "1s")
    direct_rates, proxied_rates, latencies, problems = [], [], {}, {}
    for _ in range(ROUNDS):
        for rates, port, header, where in ((direct_rates, direct, None, "straight"),
                                           (proxied_rates, box.http_port, host, "through nginx")):
            rate, latency, trouble = _hey(port, header)
            rates.append(rate)
            latencies.setdefault(where, []).append(latency)
            if trouble:
                problems[where] = trouble
    direct_rate, proxied_rate = sum(direct_rates) / ROUNDS, sum(proxied_rates) / ROUNDS
    ratio = proxied_rate / direct_rate
    each = ", ".join(f"{p / d:.2f}" for d, p in zip(direct_rates, proxied_rates))
    report.row(f"{what}requests/s straight to the container (hey -z {DURATION} -c {CLIENTS}, mean of {ROUNDS})",
               f"{direct_rate:.0f}")
    report.row(f"{what}requests/s through nginx (hey -z {DURATION} -c {CLIENTS}, mean of {ROUNDS})",
               f"{proxied_rate:.0f}")
    report.row(f"{what}through nginx / straight (each round: {each})", f"{ratio:.2f}", f">= {target}",
               ratio >= target)
    for where, values in latencies.items():
        report.row(f"{what}mean request latency {where} (hey)", ms(sum(values) / len(values)))
    for where, trouble in problems.items():
        report.note(f"hey {where}: not every request got a 200: {trouble}")


def run_static(report, box, pusher):
    """The same comparison for tests/apps/static, pushed with git (built on the static stack: nginx)."""
    app = box.new_app_name()
    work = pusher.checkout(APPS / "static", app)
    log(f"pushing tests/apps/static as {app}")
    pusher.git(work, "push", box.remote(app), "main")
    run(report, box, app, "static site: ", STATIC_TARGET)
