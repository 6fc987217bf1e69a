"""The routes as a cluster's other ingress nodes get them (plugins/nginx/export.py): rendered by the nginx plugin,
then pointed at what travels with them instead of at this server's disk."""

from pathlib import Path

from plugins.nginx import export
from plugins.nginx.vhosts import render_shared, render_vhost
from ponton.core.hookspecs import AppProxy, Tls
from ponton.core.settings import Settings


def rendered(tmp_path: Path) -> tuple[Settings, Path, Path]:
    settings = Settings(state_dir=tmp_path / "state", nginx_conf_dir=tmp_path / "conf",
                        nginx_log_dir=tmp_path / "logs", http_port=8080, https_port=8443)
    conf, stream = settings.nginx_conf_dir, settings.nginx_conf_dir / "stream"
    stream.mkdir(parents=True)
    certificate, key = tmp_path / "shop.crt", tmp_path / "shop.key"
    certificate.write_text("CERTIFICATE\n")
    key.write_text("KEY\n")
    proxy = AppProxy(tls=Tls(certificate, key, "v1"), acme_dir=settings.acme_dir)
    (conf / "shop.conf").write_text(render_vhost(settings, "shop", ["shop.example.com"], ["10.0.0.7:20001"],
                                                 None, proxy))
    (conf / "000-ponton.conf").write_text(render_shared(settings))
    (conf / "001-ponton-web.conf").write_text("server { listen 127.0.0.1:9000; }\n")
    (stream / "shop.conf").write_text("server { listen 7000; proxy_pass 10.0.0.7:20002; }\n")
    return settings, conf, stream


def test_every_route_file_but_the_skipped_one_travels(tmp_path):
    settings, conf, stream = rendered(tmp_path)
    files = export.files(conf, stream, {"001-ponton-web.conf"}, "10.0.0.1:8080")
    assert {name for name in files if not name.startswith("certs/")} == {
        "http/shop.conf", "http/000-ponton.conf", "stream/shop.conf"}
    assert files["stream/shop.conf"] == (stream / "shop.conf").read_bytes()


def test_certificates_travel_with_them_and_nothing_points_into_this_server(tmp_path):
    settings, conf, stream = rendered(tmp_path)
    files = export.files(conf, stream, set(), "10.0.0.1:8080")
    shop = files["http/shop.conf"].decode()
    assert str(tmp_path) not in shop, shop
    certificates = sorted(name for name in files if name.startswith("certs/"))
    assert len(certificates) == 2
    assert sorted(files[name] for name in certificates) == [b"CERTIFICATE\n", b"KEY\n"]
    for name in certificates:
        assert f"{export.ROOT}/{name};" in shop
    assert "access_log off;" in shop and "server 10.0.0.7:20001;" in shop


def test_acme_challenges_are_passed_on_to_the_server_that_writes_them(tmp_path):
    settings, conf, stream = rendered(tmp_path)
    files = export.files(conf, stream, set(), "10.0.0.1:8080")
    for name in ("http/shop.conf", "http/000-ponton.conf"):
        text = files[name].decode()
        assert "location ^~ /.well-known/acme-challenge/ {\n        proxy_pass http://10.0.0.1:8080;" in text, text
        assert "alias " not in text
