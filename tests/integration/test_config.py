"""Config reaches the app byte for byte and is removed by config:unset."""

import base64
import json

import pytest

NASTY = {
    "SPACES": "a value with  spaces ",
    "QUOTES": """it's "quoted" ''""",
    "DOLLAR": "$HOME ${PATH} $(id)",
    "BACKQUOTES": "`uname -a`",
    "EQUALS": "a=b=c",
    "NEWLINE": "line one\nline two\n",
    "UNICODE": "héllo wörld ✓ 日本",
    "EMPTY": "",
}


def test_values_reach_the_app_byte_for_byte(sandbox, deployed):
    sandbox.run("config:set", deployed, *(f"{k}={v}" for k, v in NASTY.items()))
    for key, value in NASTY.items():
        assert sandbox.get(sandbox.host(deployed), f"/env/{key}") == (200, value.encode()), key
        assert sandbox.run("config:get", deployed, key).stdout == value + "\n"
    shown = json.loads(sandbox.run("config:show", deployed, "--format", "json").stdout)
    assert shown == dict(sorted(NASTY.items()))


def test_encoded_values_are_decoded_as_dokku_does(sandbox, deployed):
    """What a Dokku app's own scripts run (`config:set --encoded APP KEY=<base64>`) works as is."""
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in NASTY.items()}
    sandbox.run("config:set", "--encoded", deployed, *(f"{k}={v}" for k, v in encoded.items()))
    for key, value in NASTY.items():
        assert sandbox.get(sandbox.host(deployed), f"/env/{key}") == (200, value.encode()), key
    refused = sandbox.run("config:set", "--encoded", deployed, "QUOTES=not base64!", check=False)
    assert refused.returncode == 2 and refused.stderr == "error: config value of QUOTES is not base64 of UTF-8 text (--encoded)\n"
    assert sandbox.get(sandbox.host(deployed), "/env/QUOTES")[1] == NASTY["QUOTES"].encode()  # unchanged


def test_unset_removes_the_variable(sandbox, deployed):
    sandbox.run("config:set", deployed, "GREETING=hey", "OTHER=1")
    assert sandbox.get(sandbox.host(deployed), "/env/GREETING") == (200, b"hey")
    sandbox.run("config:unset", deployed, "GREETING")
    assert sandbox.get(sandbox.host(deployed), "/env/GREETING")[0] == 404
    assert sandbox.get(sandbox.host(deployed), "/env/OTHER") == (200, b"1")


def test_no_restart_records_without_rolling(sandbox, deployed):
    before = sandbox.get(sandbox.host(deployed))[1]
    sandbox.run("config:set", deployed, "GREETING=later", "--no-restart")
    assert sandbox.get(sandbox.host(deployed)) == (200, before)
    assert sandbox.run("config:get", deployed, "GREETING").stdout == "later\n"
    sandbox.run("ps:restart", deployed)
    assert sandbox.get(sandbox.host(deployed))[1].startswith(b"hello")  # restart keeps the release's config
    sandbox.run("config:set", deployed, "OTHER=x")
    assert sandbox.get(sandbox.host(deployed))[1].startswith(b"later from ")


@pytest.mark.parametrize("key", ["1ABC", "A-B", "A B", "PORT", "ÄB"])
def test_bad_keys_change_nothing(sandbox, deployed, key):
    result = sandbox.run("config:set", deployed, f"{key}=1", check=False)
    assert result.returncode != 0 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert json.loads(sandbox.run("config:show", deployed, "--format", "json").stdout) == {}
    assert sandbox.run("releases", deployed, "--format", "json").stdout.count('"version"') == 1
