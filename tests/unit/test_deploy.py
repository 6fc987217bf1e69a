"""deploy: what the pipeline reads from an image before it releases it (the rest needs the engine)."""

import json

from ponton.core.context import Ponton
from ponton.core.settings import Settings
from ponton.pipeline import deploy


def test_what_ponton_leaves_aside_of_app_json_is_said_to_the_pusher(tmp_path, monkeypatch):
    app_json = {"formation": {"web": {"autoscaling": {"max_quantity": 4, "triggers": [
        {"type": "http", "metadata": {"request_rate_target_value": "30"}},
        {"name": "nightly", "type": "cron", "metadata": {"start": "0 6 * * *", "desiredReplicas": "3"}}]}}}}
    files = {"Procfile": "web: ./serve\nrelease: ./migrate\n", "app.json": json.dumps(app_json)}
    monkeypatch.setattr(deploy.image_files, "read_files", lambda image, names: files)
    said = []
    p = Ponton(Settings(state_dir=tmp_path / "state"), log=lambda line, err=False: said.append((line, err)))
    processes, meta = deploy.app_files(p, "ponton/app-shop:1")
    assert processes == {"web": "./serve", "release": "./migrate"}
    assert meta["autoscaling"]["web"].rps == 30
    assert said == [("-----> Reading Procfile and app.json from ponton/app-shop:1", False),
                    (" !     app.json formation.web.autoscaling: trigger 'nightly' (cron) skipped: ponton scales on "
                     "rps, latency-p90, cpu, http", True)]
