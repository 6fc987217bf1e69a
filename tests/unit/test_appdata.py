"""appdata: the one place that knows every file of an app, for destroy, rename and create."""

from ponton.core.settings import Settings
from ponton.pipeline import appdata


def test_files_are_every_file_of_the_app_and_none_of_another(tmp_path):
    settings = Settings(state_dir=tmp_path / "state", nginx_log_dir=tmp_path / "logs")
    for app in ("shop", "shop-2", "shops"):
        (settings.state_dir / "repos" / f"{app}.git").mkdir(parents=True)
        (settings.state_dir / "tls" / app).mkdir(parents=True)
        settings.nginx_log_dir.mkdir(exist_ok=True)
        for name in (f"{app}.access.log", f"{app}.access.log.1", f"{app}.access.log.2.gz"):
            (settings.nginx_log_dir / name).write_text("{}\n")
    found = appdata.files(settings, "shop")
    assert sorted(str(path.relative_to(tmp_path)) for path in found) == [
        "logs/shop.access.log", "logs/shop.access.log.1", "logs/shop.access.log.2.gz",
        "state/repos/shop.git", "state/tls/shop"]
    # Each name is the app's, alone or with a suffix that starts with a dot: a rename replaces that part.
    assert all(path.name == "shop" or path.name.startswith("shop.") for path in found)


def test_an_app_without_files_has_none(tmp_path):
    assert appdata.files(Settings(state_dir=tmp_path / "state", nginx_log_dir=tmp_path / "logs"), "shop") == []
