"""6. Image size per language template, as the engine reports it: the images built for the Flask, Express, Go and
static test apps (tests/apps), pushed through the sandbox's sshd, and the stack images they start from.

An app image shares its lower layers with the image it starts from (its stack's; the Go template copies the binary
onto the bare base image), so each row says how much of the size is the app's own layers and which image holds
the rest. On disk, the shared layers are stored once."""

from bench.common import APPS, Pusher, log

APP_DIRS = ("express", "go", "static")  # flask: the app bench/push.py left deployed
MB = 1e6


def _image(name: str) -> dict | None:
    import docker

    from ponton.core.dockerclient import client

    try:
        return client().images.get(name).attrs
    except docker.errors.ImageNotFound:
        return None


def _parent(attrs: dict, candidates: dict[str, dict]) -> tuple[str, dict] | None:
    """The candidate whose layers are the longest prefix of the image's: the image it was built on."""
    layers = attrs["RootFS"]["Layers"]
    found = [(name, c) for name, c in candidates.items()
             if c["Id"] != attrs["Id"] and layers[:len(c["RootFS"]["Layers"])] == c["RootFS"]["Layers"]]
    return max(found, key=lambda item: len(item[1]["RootFS"]["Layers"]), default=None)


def _app_image(app: str) -> str:
    from ponton.core.settings import Settings
    from runtime.docker_local import DockerLocal

    web = [i for i in DockerLocal(Settings()).instances(app) if i.process == "web" and i.running]
    if not web:
        raise RuntimeError(f"{app} has no running web instance")
    return web[0].container.attrs["Config"]["Image"]


def run(report, box, pusher: Pusher, flask_app: str | None):
    from builder import languages, stacks
    from ponton.core import settings

    apps = {"flask": flask_app} if flask_app else {}
    for app_dir in APP_DIRS:
        app = box.new_app_name()
        log(f"image sizes: pushing tests/apps/{app_dir} as {app}")
        work = pusher.checkout(APPS / app_dir, app)
        with open(box.root / f"push-{app}.log", "w") as output:
            push = pusher.push(work, app, output)
            try:
                push.wait(timeout=600)
            finally:
                if push.poll() is None:
                    push.kill()
                    push.wait(timeout=30)
        if push.returncode != 0:
            raise RuntimeError(f"git push of tests/apps/{app_dir} exited {push.returncode}: "
                               f"{(box.root / f'push-{app}.log').read_text(errors='replace')[-2000:]}")
        apps[app_dir] = app
    base = settings.load(box.env["PONTON_CONFIG"]).base_image
    names = [stacks.image(languages.by_name(n)) for n in languages.stack_languages()] + [base]
    candidates = {name: attrs for name in names if (attrs := _image(name))}
    for app_dir, app in apps.items():
        name = _app_image(app)
        attrs = _image(name)
        parent = _parent(attrs, candidates)
        if parent:
            own = attrs["Size"] - parent[1]["Size"]
            detail = f"{own / MB:.0f} MB own layers on {parent[0]}"
        else:
            detail = "no known image below it"
        report.row(f"image size, {app_dir} app ({detail})", f"{attrs['Size'] / MB:.0f} MB")
    for name, attrs in candidates.items():
        parent = _parent(attrs, candidates)
        below = f"{(attrs['Size'] - parent[1]['Size']) / MB:.0f} MB own layers on {parent[0]}" if parent else "debootstrap"
        report.row(f"image size, {name} ({below})", f"{attrs['Size'] / MB:.0f} MB")
    missing = [n for n in languages.stack_languages() if stacks.image(languages.by_name(n)) not in candidates]
    if missing:
        report.note(f"stack images not built on this engine (not measured): {', '.join(missing)}")
