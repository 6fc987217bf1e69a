"""The deploy pipeline, top to bottom: image → release → rollout (the health-gated swap behind the proxy, postdeploy).

Every change that needs new containers comes through here: a new image, a config change, a rollback, a scale
change, ps:restart/start/stop. Callers hold the app's lock.
"""

import dataclasses
import secrets
import time
from collections.abc import Callable

from builder import build
from ponton.core.context import Ponton
from ponton.core.dockerclient import image_exists
from ponton.core.errors import DeployError, InvalidInput, NotFound
from ponton.core.scheduler import Instance, Scheduler
from ponton.core.state import Release
from ponton.features import appfiles, portmaps, quota, resources
from ponton.features.strategy import strategy_of
from ponton.pipeline import retire, routing
from runtime import image as image_files
from runtime.rollout import Rollout, Strategy

BUILT_IMAGE_PREFIX = "ponton/app-"


def deploy_image(p: Ponton, app: str, image: str, source: str, description: str, build_log: str = "") -> Release:
    """Release `image` with the app's current config: release phase and predeploy, rollout, postdeploy."""

    if not image_exists(image):
        raise NotFound(f"image {image} does not exist on this server (build or load it first)")
    processes, meta = app_files(p, image)
    release_command = processes.pop("release", None)
    if meta["formation"] and p.state.current_release(app) is None:
        quota.set_formation(p, app, meta["formation"])
    for process, policy in meta["autoscaling"].items():  # app.json's rules, as Dokku applies them, on each deploy
        p.state.set_autoscale(app, process, dataclasses.asdict(policy))
    p.state.set_stopped(app, False)
    release = p.state.add_release(
        app, image, source, p.state.config(app), processes or {"web": ""}, meta["healthchecks"], description,
        build_log,
    )
    try:
        for step, command in [("release", release_command), ("predeploy", meta["scripts"].get("predeploy"))]:
            _run_once(p, app, release, step, command)
    except BaseException as e:
        _failed(p, app, release, e)
        raise
    # postdeploy runs once the new instances serve, before the release is current: if it fails, the rollout is
    # undone and the previous release keeps serving.
    postdeploy = meta["scripts"].get("postdeploy")
    roll_out(p, app, release, finish=lambda: _run_once(p, app, release, "postdeploy", postdeploy))
    _prune_images(p, app)
    return release


def app_files(p: Ponton, image: str) -> tuple[dict[str, str], dict]:
    """The Procfile's processes and app.json's parts (appfiles.parse_app_json) in `image`; what ponton leaves
    aside of app.json (a KEDA trigger it has no samples for) is said to the pusher, as a warning line."""
    p.log(f"-----> Reading Procfile and app.json from {image}")
    files = image_files.read_files(image, ["Procfile", "app.json"])
    meta = appfiles.parse_app_json(files["app.json"]) if "app.json" in files else appfiles.no_app_json()
    for warning in meta["warnings"]:
        p.log(f" !     {warning}", err=True)
    return appfiles.parse_procfile(files.get("Procfile", "")), meta


def build_and_deploy(p: Ponton, app: str, source_dir, image: str, source: str, description: str) -> Release:
    """Build `source_dir` into `image`, streaming the build output, then deploy it with its build log.

    The tag gets a random suffix: other tenants cannot guess the name, so their Dockerfiles (FROM, COPY --from)
    cannot build on this app's image, code and all (only those with access to the app see its image names)."""

    image = f"{image}-{secrets.token_hex(8)}"
    lines = []

    def log(line: str):
        lines.append(line)
        p.log(line)

    build(p.settings, source_dir, image, log)
    return deploy_image(p, app, image, source, description, build_log="\n".join(lines))


def _run_once(p: Ponton, app: str, release: Release, step: str, command: str | None):
    """Run a release-phase command or an app.json script in a one-off container; fail the deploy if it fails."""

    if not command:
        return
    p.log(f"-----> Running {step}: {command}")
    code, output = p.scheduler.run_once(app, release, command, p.settings.release_timeout,
                                        resources.for_process(p, app, "run"), networks(p, app))
    for line in output.splitlines():
        p.log(f"       {line}")
    if code != 0:
        raise DeployError(f"{step} command failed with exit code {code}: {command}")


def _prune_images(p: Ponton, app: str):
    """Keep the images of the newest keep_releases releases (rollback reaches them), remove older builds."""

    releases = p.state.releases(app)
    keep = {r.image for r in releases[-p.settings.keep_releases:]}
    p.scheduler.remove_images(built_images(releases) - keep)


def built_images(releases: list[Release]) -> set[str]:
    """The images ponton built from source (never an image the user deployed with git:from-image)."""
    return {r.image for r in releases if r.image.startswith(BUILT_IMAGE_PREFIX)}


def redeploy(p: Ponton, app: str, description: str) -> Release | None:
    """A new release of the current code with the app's current config. None if the app was never deployed."""
    current = p.state.current_release(app)
    if current is None:
        return None
    release = p.state.add_release(
        app, current.image, current.source, p.state.config(app), current.processes, current.healthchecks, description
    )
    return roll_out(p, app, release)


def rollback(p: Ponton, app: str, version: int | None) -> Release:
    """Roll out the code and config of an earlier release (by default the one before the current)."""
    current = p.state.current_release(app)
    if current is None:
        raise NotFound(f"app {app} has no release to roll back from")
    if version is None:
        earlier = [r for r in p.state.releases(app) if r.status == "succeeded" and r.version < current.version]
        if not earlier:
            raise NotFound(f"app {app} has no earlier successful release")
        version = earlier[-1].version
    target = p.state.release(app, version)
    if target.version == current.version:
        raise InvalidInput(f"v{version} is already the current release of {app}")
    release = p.state.add_release(
        app, target.image, target.source, target.config, target.processes, target.healthchecks,
        f"Rollback to v{target.version}",
    )
    roll_out(p, app, release)
    p.state.replace_config(app, target.config)
    return release


def roll_out(p: Ponton, app: str, release: Release, finish: Callable[[], None] | None = None) -> Release:
    strategy = strategy_of(p, app)
    try:
        rollout = _converge(p, app, release, strategy=strategy, finish=finish)
    except BaseException as e:  # the engine unreachable, a SIGTERM too: a release is never left "deploying"
        _failed(p, app, release, e)
        raise
    if strategy.name == "canary" and rollout.kept_old:
        plan = strategy.canary_plan
        until = time.time() + strategy.canary_duration * len(plan) if strategy.canary_duration else None
        p.state.set_release_status(app, release.version, "canary")
        p.state.set_canary(app, release.version, until)
        steps = f" (then {', '.join(f'{share}%' for share in plan[1:])})" if len(plan) > 1 else ""
        p.event(app, "canary", f"{release.label} gets {plan[0]}% of requests{steps}")
        p.log(f"=====> {app} {release.label} gets {plan[0]}% of requests{steps}: "
              f"`ponton deploy:promote {app}` or `ponton deploy:abort {app}`")
        return release
    _succeeded(p, app, release)
    return release


def _failed(p: Ponton, app: str, release: Release, error: BaseException):
    p.state.set_release_status(app, release.version, "failed")
    reason = (str(error).splitlines() or [type(error).__name__])[0]
    p.event(app, "deploy-failed", f"{release.label} ({release.description}): {reason}")


def _succeeded(p: Ponton, app: str, release: Release):
    p.state.set_release_status(app, release.version, "succeeded")
    p.event(app, "deploy", f"{release.label} ({release.description})")
    p.hooks.post_deploy(settings=p.settings, app=app, release=release)
    p.log(f"=====> {app} {release.label} deployed: {p.url(app)}")


def promote(p: Ponton, app: str):
    """Send every request to the canary release and retire the old instances."""

    canary = _canary(p, app)
    _converge(p, app, canary, strategy=Strategy(), canary_ok=True)
    p.state.set_canary(app, None, None)
    _succeeded(p, app, canary)


def abort(p: Ponton, app: str):
    """Send every request back to the current release and remove the canary's instances."""

    canary = _canary(p, app)
    _converge(p, app, p.state.current_release(app), strategy=Strategy(), canary_ok=True)
    p.state.set_canary(app, None, None)
    p.state.set_release_status(app, canary.version, "aborted")
    p.event(app, "canary-aborted", f"{canary.label} aborted")


def _canary(p: Ponton, app: str) -> Release:
    version = p.state.app(app).canary_version
    if version is None:
        raise InvalidInput(f"{app} has no canary in progress")
    return p.state.release(app, version)


def converge(p: Ponton, app: str, replace: bool = False, unhealthy: frozenset[str] = frozenset(),
             instances: list[Instance] | None = None) -> Rollout | None:
    """Bring the current release to the app's formation (renewing every instance if `replace`, and the
    instances whose ids are in `unhealthy`), from `instances` if the caller just listed them. The rollout that
    did it, or None if the app has nothing deployed yet."""
    current = p.state.current_release(app)
    if current is None:
        return None
    return _converge(p, app, current, replace, unhealthy, instances=instances)


def move(p: Ponton, app: str, scheduler: Scheduler):
    """Renew every instance of the current release through `scheduler` (which starts the new ones where they are
    to run: clustering.Moving), and return once the old ones are gone: they are not this ponton's scheduler's."""
    current = p.state.current_release(app)
    if current is not None:
        _converge(p, app, current, replace=True, scheduler=scheduler)


def _converge(p: Ponton, app: str, release: Release, replace: bool = False, unhealthy: frozenset[str] = frozenset(),
              strategy=None, canary_ok: bool = False, finish: Callable[[], None] | None = None,
              instances: list[Instance] | None = None, scheduler: Scheduler | None = None) -> Rollout:

    record = p.state.app(app)
    if record.canary_version is not None and not canary_ok:
        raise InvalidInput(f"a canary (v{record.canary_version}) is in progress: "
                           f"`ponton deploy:promote {app}` or `ponton deploy:abort {app}` first")
    strategy = strategy or strategy_of(p, app)
    standby = record.standby_version if (record.standby_until or 0) > time.time() else None
    rollout = Rollout(app, release, p.settings, scheduler or p.scheduler,
                      lambda instances, weights: routing.route(p, app, instances, weights), p.log,
                      strategy, resources.for_release(p, app, release), portmaps.published(p, app),
                      lambda: networks(p, app))
    rollout.run(
        {} if record.stopped else p.state.formation(app), replace, unhealthy,
        reuse=routing.identical(p, app, release),
        spare=frozenset() if standby is None else frozenset({standby}), finish=finish, current=instances,
    )
    if rollout.pending and scheduler is not None:
        retire.stop_all(scheduler, rollout.pending)
    elif rollout.pending:
        retire.hand_over(p, app, rollout.pending)
    if strategy.name == "blue-green" and rollout.kept_old:
        p.state.set_standby(app, max(i.release for i in rollout.kept_old), time.time() + strategy.wait_to_retire)
    elif record.standby_version is not None and standby is None:
        p.state.set_standby(app, None, None)  # its window closed: this rollout retired it
    return rollout


def networks(p: Ponton, app: str) -> tuple[str, ...]:
    """The networks the app's containers join besides their own, as the plugins say (linked backing services)."""
    return tuple(sorted({name for names in p.hooks.app_networks(settings=p.settings, app=app) for name in names}))


def remove_runtime(p: Ponton, app: str):
    """Remove every instance, the network and the routing of `app` (destroy, rename)."""

    p.hooks.proxy_remove(settings=p.settings, app=app)
    routing.share(p)
    for instance in p.scheduler.instances(app):
        p.scheduler.remove(instance)
    p.scheduler.remove_network(app)
