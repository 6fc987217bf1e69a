"""What `pip install` puts on a server is what the code needs: the wheel carries every file of ponton's packages.

The code reads templates, stack templates, the base image script and the service files from its own package
directories at run time; an editable checkout has them all, an installed wheel only what setup.cfg lists. So the
wheel built from this checkout must hold exactly the files git tracks under those directories."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ["ponton", "runtime", "builder", "gitreceive", "plugins"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    # As install.sh builds it: from a copy of the source (a build in the checkout leaves build/ behind), with
    # pip's build isolation.
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--disable-pip-version-check", "-w", out, source], check=True, timeout=300)
    (path,) = out.glob("ponton-*.whl")
    return zipfile.ZipFile(path)


def tracked_package_files() -> set[str]:
    out = subprocess.run(["git", "ls-files", "-z", *PACKAGES], cwd=ROOT, capture_output=True, check=True).stdout
    return {name for name in out.decode().split("\0") if name and (ROOT / name).is_file()}


def test_the_wheel_holds_every_file_of_the_packages(wheel):
    shipped = {name for name in wheel.namelist() if ".dist-info/" not in name}
    expected = tracked_package_files()
    assert sorted(expected - shipped) == [], "setup.cfg's package_data leaves these out of the installed ponton"
    assert sorted(shipped - expected) == []


def test_the_files_the_code_loads_are_package_files():
    """The run-time resources named in the code, each a tracked package file (so the test above covers them)."""
    import plugins.nginx
    import plugins.postgres
    import plugins.redis
    from builder import stacks, templating

    nginx_templates = Path(plugins.nginx.__file__).parent.glob("*.j2")  # its PackageLoader's directory
    service_images = [path for kind in (plugins.postgres.KIND, plugins.redis.KIND) for path in kind.image_dir.iterdir()]
    loaded = [stacks.BASE_SCRIPT, *templating.TEMPLATES.rglob("*.j2"), *nginx_templates, *service_images]
    names = {str(path.relative_to(ROOT)) for path in loaded}
    assert {"builder/templates/python.Dockerfile.j2", "builder/templates/stacks/python.Dockerfile.j2",
            "plugins/nginx/vhost.conf.j2", "builder/base-image.sh"} <= names
    assert {"plugins/postgres/image/entrypoint.sh", "plugins/redis/image/Dockerfile.j2"} <= names
    assert names <= tracked_package_files()
