"""appfiles: Procfile and app.json as an app ships them."""

import json

import pytest

from ponton.core.errors import InvalidInput
from ponton.features import appfiles
from ponton.features.autoscale import Policy


def test_procfile_types_and_commands():
    text = "web: gunicorn app:app --bind 0.0.0.0:$PORT\nworker:python worker.py  \n"
    assert appfiles.parse_procfile(text) == {"web": "gunicorn app:app --bind 0.0.0.0:$PORT", "worker": "python worker.py"}


def test_procfile_skips_comments_blanks_and_junk():
    text = "# web: commented out\n\n   \nnot a process line\nweb:\n  web: ./run  \r\nWorker: ./work\n"
    assert appfiles.parse_procfile(text) == {"web": "./run", "worker": "./work"}


def test_procfile_last_duplicate_wins():
    assert appfiles.parse_procfile("web: a\nweb: b\n") == {"web": "b"}


def test_empty_procfile():
    assert appfiles.parse_procfile("") == {}


def parse(data) -> dict:
    return appfiles.parse_app_json(json.dumps(data))


def test_app_json_everything():
    check = {"type": "startup", "path": "/health", "attempts": 3, "wait": 1, "timeout": 2, "content": "ok"}
    result = parse({
        "name": "ignored",
        "healthchecks": {"web": [check]},
        "formation": {"web": {"quantity": 2, "autoscaling": {"max_quantity": 4, "triggers": [
            {"type": "rps", "metadata": {"value": 20}}]}}, "worker": {}},
        "scripts": {"dokku": {"predeploy": "./migrate", "postdeploy": "./notify", "other": "x"}},
    })
    assert result == {
        "healthchecks": {"web": [check]},
        "formation": {"web": 2, "worker": 1},
        "autoscaling": {"web": Policy(minimum=2, maximum=4, rps=20)},  # min: the quantity, as on Dokku
        "scripts": {"predeploy": "./migrate", "postdeploy": "./notify"},
        "warnings": [],
    }


def test_app_json_empty_object():
    assert parse({}) == appfiles.no_app_json() == {"healthchecks": {}, "formation": {}, "autoscaling": {},
                                                   "scripts": {}, "warnings": []}


def test_app_json_triggers_ponton_cannot_use_are_warnings_not_errors():
    redis = {"name": "queue", "type": "redis", "metadata": {"listName": "jobs", "listLength": "5"}}
    cpu = {"type": "cpu", "metadata": {"type": "Utilization", "value": "50"}}
    result = parse({"formation": {"web": {"quantity": 1, "autoscaling": {"max_quantity": 3, "triggers": [redis, cpu]}},
                                  "worker": {"quantity": 2, "autoscaling": {"triggers": [redis]}}}})
    assert result["formation"] == {"web": 1, "worker": 2}
    assert result["autoscaling"] == {"web": Policy(minimum=1, maximum=3, cpu=50)}
    assert [w.split(": ")[1] for w in result["warnings"]] == [
        "trigger 'queue' (redis) skipped", "trigger 'queue' (redis) skipped",
        "no trigger ponton can use, so worker is not autoscaled from app.json"]


@pytest.mark.parametrize("text, message", [
    ("{", "app.json is not valid JSON"),
    ("[]", "app.json must be a JSON object"),
    ('"web"', "app.json must be a JSON object"),
    ('{"healthchecks": [1]}', "app.json healthchecks must map process types"),
    ('{"healthchecks": {"web": {"path": "/"}}}', "app.json healthchecks.web must be a list of objects"),
    ('{"healthchecks": {"web": ["/"]}}', "app.json healthchecks.web must be a list of objects"),
    ('{"healthchecks": {"web": [{"path": "/", "bogus": 1, "alsobad": 2}]}}',
     "app.json healthchecks.web: unknown keys alsobad, bogus"),
    ('{"healthchecks": {"web": [{"attempts": "many"}]}}', "app.json healthchecks.web: attempts must be a number"),
    ('{"healthchecks": {"web": [{"timeout": -1}]}}', "app.json healthchecks.web: timeout must be a number"),
    ('{"healthchecks": {"web": [{"wait": true}]}}', "app.json healthchecks.web: wait must be a number"),
    ('{"healthchecks": {"web": [{"path": "no-slash"}]}}', "app.json healthchecks.web: path must start with /"),
    ('{"healthchecks": {"web": [{"path": "/a b"}]}}', "app.json healthchecks.web: path must start with /"),
    ('{"healthchecks": {"web": [{"wait": NaN}]}}', "app.json healthchecks.web: wait must be a number"),
    ('{"healthchecks": {"web": [{"uptime": Infinity}]}}', "app.json healthchecks.web: uptime must be a number"),
    ('{"healthchecks": {"web": [{"path": "/é"}]}}', "app.json healthchecks.web: path must start with /"),
    ('{"healthchecks": {"web": [{"path": 1}]}}', "app.json healthchecks.web: path must start with /"),
    ('{"healthchecks": {"web": [{"content": 5}]}}', "app.json healthchecks.web: content must be text"),
    ('{"healthchecks": {"web": [{"type": []}]}}', "app.json healthchecks.web: type must be text"),
    ('{"formation": {"web": {"quantity": "2"}}}', "app.json formation.web.quantity must be a whole number"),
    ('{"formation": {"web": {"quantity": true}}}', "app.json formation.web.quantity must be a whole number"),
    ('{"formation": {"web": 2}}', "app.json formation.web.quantity must be a whole number"),
    ('{"formation": {"web": {"quantity": 51}}}', "invalid count in 'web=51'"),
    ('{"formation": {"web": {"quantity": -1}}}', "invalid count in 'web=-1'"),
    ('{"formation": {"WEB": {"quantity": 1}}}', "expected TYPE=N with a process type"),
    ('{"formation": [1]}', "app.json formation must map process types"),
    ('{"formation": "web"}', "app.json formation must map process types"),
    ('{"scripts": {"dokku": "./x"}}', "app.json scripts.dokku must map predeploy/postdeploy"),
    ('{"scripts": {"dokku": {"predeploy": ["a"]}}}', "app.json scripts.dokku must map predeploy/postdeploy"),
])
def test_app_json_rejected(text, message):
    with pytest.raises(InvalidInput) as e:
        appfiles.parse_app_json(text)
    assert str(e.value).startswith(message)


def test_app_json_scripts_not_a_mapping_is_ignored():
    assert parse({"scripts": "x"})["scripts"] == {}


HUGE = "9" * 5000  # past Python's 4300-digit limit of int()


@pytest.mark.parametrize("text", [
    '{"formation": {"web": {"quantity": %s}}}' % HUGE,
    '{"formation": {"web": {"quantity": 1%s}}}' % ("0" * 4000),
    '{"healthchecks": {"web": [{"attempts": %s}]}}' % HUGE,
    "[" * 100_000 + "]" * 100_000,
])
def test_app_json_huge_numbers_and_nesting(text):
    with pytest.raises(InvalidInput) as e:
        appfiles.parse_app_json(text)
    assert len(str(e.value)) < 200


@pytest.mark.parametrize("key, value", [
    ("attempts", 1e9), ("attempts", 1001), ("wait", 1e300), ("timeout", 3601), ("initialDelay", 1e300),
    ("uptime", 10**300),
])
def test_health_check_numbers_are_capped(key, value):
    with pytest.raises(InvalidInput, match=f"app.json healthchecks.web: {key} must be a number from 0 to"):
        appfiles.parse_app_json(json.dumps({"healthchecks": {"web": [{key: value}]}}))


def test_health_check_numbers_at_their_caps_are_accepted():
    check = {"attempts": 1000, "wait": 3600, "timeout": 3600, "initialDelay": 3600, "uptime": 3600}
    assert parse({"healthchecks": {"web": [check]}})["healthchecks"] == {"web": [check]}
