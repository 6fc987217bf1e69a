"""The builder's pure parts: detection order, version pins, template rendering, reading the build output."""

import multiprocessing
import threading

import pytest

from builder import dockerbuild, languages, pins, templating
from ponton.core.errors import BuildError
from ponton.core.settings import Settings


@pytest.mark.parametrize("files, expected", [
    (["Dockerfile", "requirements.txt", "package.json"], ("dockerfile", "Dockerfile")),
    (["requirements.txt", "package.json"], ("python", "requirements.txt")),
    (["pyproject.toml"], ("python", "pyproject.toml")),
    (["package.json", "index.html"], ("node", "package.json")),
    (["go.mod"], ("go", "go.mod")),
    (["Gemfile"], ("ruby", "Gemfile")),
    (["index.php", "index.html"], ("php", "index.php")),
    (["public/index.html"], ("static", "public/index.html")),
    (["web.go", "Procfile"], ("go", "web.go")),  # GOPATH-style: Go files, no go.mod
    (["runtime.txt", "Procfile"], ("python", "runtime.txt")),
    (["index.html", "tool.go"], ("static", "index.html")),  # a manifest beats a glob
])
def test_detection_follows_the_order_of_the_table(tmp_path, files, expected):
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    language, marker = languages.detect(tmp_path)
    assert (language.name, marker) == expected


@pytest.mark.parametrize("procfile, expected", [
    ("web: python3 -u web.py\n", ("python", "Procfile runs python")),
    ("web: gunicorn app:app\nworker: python worker.py\n", ("python", "Procfile runs python")),
    ("web: ./pythonic-server\n", None),  # the word, not a part of another
])
def test_a_procfile_that_runs_python_is_a_python_app(tmp_path, procfile, expected):
    (tmp_path / "Procfile").write_text(procfile)
    if expected is None:
        with pytest.raises(BuildError):
            languages.detect(tmp_path)
        return
    language, marker = languages.detect(tmp_path)
    assert (language.name, marker) == expected


def test_a_symlinked_procfile_is_not_read(tmp_path):
    """A tenant's Procfile may point at any file of the server: detection reads none of it."""
    (tmp_path / "elsewhere").write_text("web: python3 secret.py\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Procfile").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(BuildError, match="cannot tell how to build this app"):
        languages.detect(tmp_path / "app")


def test_a_package_json_beats_a_procfile_that_runs_python(tmp_path):
    (tmp_path / "Procfile").write_text("web: node server.js\nworker: python3 jobs.py\n")
    (tmp_path / "package.json").write_text("{}")
    assert languages.detect(tmp_path)[0].name == "node"


def test_nothing_to_detect_names_the_markers(tmp_path):
    (tmp_path / "README").write_text("")
    with pytest.raises(BuildError, match="none of Dockerfile, requirements.txt.*found"):
        languages.detect(tmp_path)


@pytest.mark.parametrize("spec, version, ok", [
    ("20", "20.19.2", True), ("20.x", "20.19.2", True), ("^20.1", "20.19.2", True), ("^18", "20.19.2", False),
    ("~20.19.0", "20.19.2", True), ("~20.18", "20.19.2", False), (">=18 <21", "20.19.2", True),
    (">=21", "20.19.2", False), ("18 - 20", "20.19.2", True), ("16 || 18", "20.19.2", False),
    ("16 || >=20", "20.19.2", True), ("*", "20.19.2", True), ("<=20", "20.19.2", True), (">20", "20.19.2", False),
])
def test_npm_ranges(spec, version, ok):
    assert pins.npm_range(spec, version) is ok


@pytest.mark.parametrize("pin, ok", [("3.13", True), ("3.13.5", True), ("3.13.4", False), ("3.12", False),
                                     ("3.x", True), ("3", True)])
def test_python_and_ruby_pins_name_a_release_line(pin, ok):
    assert pins.same_release(pin, "3.13.5") is ok


def test_go_line_is_a_minimum():
    assert pins.at_least("1.22", "1.24.4") and pins.at_least("1.24.4", "1.24.4")
    assert not pins.at_least("1.25", "1.24.4")


def test_pin_readers(tmp_path):
    assert pins.first_line("# pyenv\n\npython-3.13  # comment\n") == "3.13"
    assert pins.go_directive("module x\n\ngo 1.22.1\n") == "1.22.1"
    assert pins.engines_node('{"engines": {"node": " >=18 "}}') == ">=18"
    assert pins.engines_node('{"name": "x"}') is None
    with pytest.raises(BuildError, match="package.json is not valid JSON"):
        pins.engines_node("{")


def test_an_unmet_pin_fails_naming_the_version_available(tmp_path):
    (tmp_path / "runtime.txt").write_text("python-3.9.18\n")
    found = pins.pins(languages.by_name("python").pin_files, tmp_path)
    with pytest.raises(BuildError, match=r"runtime.txt asks for Python 3.9.18, .* versions available: 3.13.5"):
        pins.check(found, "Python", "3.13.5")


def test_a_symlinked_pin_file_is_not_read(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("3.9\n")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / ".python-version").symlink_to(secret)
    assert pins.pins(languages.by_name("python").pin_files, tmp_path / "app") == []


def test_python_template_installs_dependencies_before_copying_the_code(tmp_path):
    (tmp_path / "requirements.txt").write_text("Flask\ngunicorn\n")
    dockerfile = templating.app_files("python", tmp_path, "ponton/stack-python:trixie", "ponton/base:trixie")["Dockerfile"]
    lines = dockerfile.splitlines()
    assert lines.index("RUN pip install -r requirements.txt") < lines.index("COPY app/ /app/")
    assert 'CMD ["/bin/sh", "-c", "exec gunicorn --bind 0.0.0.0:$PORT app:app"]' in lines
    assert "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt" in lines


def test_node_template_installs_a_pinned_release_the_stack_lacks(tmp_path):
    (tmp_path / "package.json").write_text("{}")
    assert "node-linux" not in templating.app_files("node", tmp_path, "s", "b")["Dockerfile"]
    lines = templating.app_files("node", tmp_path, "s", "b", pin="18.x")["Dockerfile"].splitlines()
    install = next(i for i, line in enumerate(lines) if line.startswith("RUN npm install --global"))
    assert lines[install].endswith('@18.x" \\')  # in double quotes, for sh
    assert install < lines.index("COPY app/package.json /app/")  # its layer is cached per pin, not per push
    assert "ENV PATH=/opt/node/bin:" in "\n".join(lines)


@pytest.mark.parametrize("spec, ok", [
    ("18.x", True), (">=16 <19", True), ("^18.19.0 || 20", True), ("4.2.x", True),
    ('18"; curl evil.example "', False), ("$(id)", False), ("`id`", False), ("18\nRUN id", False), ("x" * 65, False),
])
def test_a_pin_reaches_a_build_step_only_as_a_version_range(spec, ok):
    pin = pins.Pin("package.json engines.node", spec, pins.npm_range)
    if ok:
        assert pins.range_for_shell(pin) == spec
    else:
        with pytest.raises(BuildError, match="is not a version range"):
            pins.range_for_shell(pin)


def test_node_template_uses_npm_ci_only_with_a_lockfile(tmp_path):
    (tmp_path / "package.json").write_text("{}")
    assert "RUN npm install" in templating.app_files("node", tmp_path, "s", "b")["Dockerfile"]
    (tmp_path / "package-lock.json").write_text("{}")
    assert "RUN npm ci" in templating.app_files("node", tmp_path, "s", "b")["Dockerfile"]


def test_static_template_serves_public_when_the_site_is_there(tmp_path):
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "index.html").write_text("")
    files = templating.app_files("static", tmp_path, "s", "b")
    assert set(files) == {"Dockerfile", "nginx.conf"}
    assert "root /app/public;" in files["nginx.conf"]


def test_build_output_tracks_steps_cache_and_the_failing_output():
    progress = dockerbuild.Progress()
    for line in ["Step 1/3 : FROM x", " ---> abc", "Step 2/3 : RUN pip install -r requirements.txt",
                 " ---> Using cache", "Step 3/3 : RUN make", " ---> Running in 123", "compiling",
                 "make: *** [all] Error 2", "Removing intermediate container 123"]:
        progress.line(line)
    assert progress.cached == ["RUN pip install -r requirements.txt"]
    limits = Settings(build_memory="2g", build_pids_limit=300)
    message = dockerbuild._failure("The command '/bin/sh -c make' returned a non-zero code: 2", progress, limits)
    assert message == "build failed at step 3/3 (RUN make): exit code 2: compiling | make: *** [all] Error 2"
    oom = dockerbuild._failure("The command '/bin/sh -c make' returned a non-zero code: 137", progress, limits)
    assert "out of memory (the limit is 2g, setting build_memory)" in oom
    progress.line("/bin/sh: 0: Cannot fork")
    forks = dockerbuild._failure("The command '/bin/sh -c make' returned a non-zero code: 2", progress, limits)
    assert "exit code 2: out of processes (the limit is 300, setting build_pids_limit)" in forks


def test_cpu_limit_and_cgroup_parent_go_into_the_build_request():
    assert dockerbuild._limits(Settings(build_cpus=1.5), "/docker/abc") == {
        "cpuperiod": 100_000, "cpuquota": 150_000, "cgroupparent": "/docker/abc"}
    assert dockerbuild._limits(Settings(build_cpus=0), "") == {}
    with pytest.raises(BuildError, match="setting build_cpus"):
        dockerbuild._limits(Settings(build_cpus=-1), "")


def _hold_a_slot(state_dir, holding, release):
    with dockerbuild.build_slot(Settings(state_dir=state_dir, max_concurrent_builds=1), lambda line: None):
        holding.set()
        release.wait(30)


def test_builds_wait_for_a_free_slot_across_processes(tmp_path):
    context = multiprocessing.get_context("spawn")
    holding, release = context.Event(), context.Event()
    other = context.Process(target=_hold_a_slot, args=(tmp_path, holding, release))
    other.start()
    try:
        assert holding.wait(30)
        said, entered = [], threading.Event()

        def second():
            with dockerbuild.build_slot(Settings(state_dir=tmp_path, max_concurrent_builds=1), said.append):
                entered.set()

        thread = threading.Thread(target=second)
        thread.start()
        # It must say it waits, and must not enter while the other process holds the only slot.
        assert not entered.wait(1.0)
        assert said == ["-----> waiting for a build slot (at most 1 at a time, setting max_concurrent_builds)"]
        release.set()
        assert entered.wait(30)
        thread.join(30)
    finally:
        release.set()
        other.join(30)


def test_two_slots_let_two_builds_run(tmp_path):
    limits = Settings(state_dir=tmp_path, max_concurrent_builds=2)
    said = []
    with dockerbuild.build_slot(limits, said.append), dockerbuild.build_slot(limits, said.append):
        assert said == []


def test_the_context_has_the_modes_git_records_whatever_the_exports_umask(tmp_path):
    """ponton exports a push with umask 077; the image's own users (nginx's, in a static site) must read it."""
    import tarfile

    (tmp_path / "bin").mkdir(mode=0o700)
    (tmp_path / "index.html").write_text("hi")
    (tmp_path / "index.html").chmod(0o600)
    (tmp_path / "bin" / "run").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "run").chmod(0o700)
    with dockerbuild.context({}, tmp_path, prefix="app/") as archive, tarfile.open(fileobj=archive) as tar:
        modes = {member.name: member.mode for member in tar.getmembers()}
    assert modes == {"app/bin": 0o755, "app/index.html": 0o644, "app/bin/run": 0o755}
