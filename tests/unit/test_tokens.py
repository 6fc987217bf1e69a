"""Tokens of the web face: shown once, stored hashed, expiring, each user's own; login links work once."""

import json
import sqlite3
import time

import pytest

from ponton import cli
from ponton.core.context import Ponton
from ponton.core.settings import Settings
from ponton.features import tokens


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("PONTON_USER", raising=False)
    monkeypatch.setenv("PONTON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("PONTON_CONFIG", str(tmp_path / "none.yml"))
    p = Ponton(Settings(state_dir=tmp_path / "state"))
    for name, fingerprint in [("root-admin", "fp0"), ("alice", "fp1"), ("bob", "fp2")]:
        p.state.add_ssh_key(name, fingerprint, f"ssh-ed25519 {fingerprint}")
    p.state.close()
    return tmp_path / "state"


def run(capsys, monkeypatch, user, *argv):
    if user:
        monkeypatch.setenv("PONTON_USER", user)
    else:
        monkeypatch.delenv("PONTON_USER", raising=False)
    code = cli.run(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def holder(state_dir, secret, kind=tokens.API, take=False):
    p = Ponton(Settings(state_dir=state_dir))
    try:
        return tokens.holder(p, kind, secret, take)
    finally:
        p.state.close()


def test_a_token_is_printed_once_alone_on_its_last_line_and_stored_only_hashed(state_dir, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "alice", "tokens:create", "ci", "--expires", "7")
    assert code == 0
    secret = out.splitlines()[-1]
    assert secret.startswith("ponton_") and " " not in secret and len(secret) > 40
    found = holder(state_dir, secret)
    assert found.user == "alice" and found.name == "ci"
    assert 6.9 * 86400 < found.expires - time.time() <= 7 * 86400
    database = (state_dir / "ponton.db").read_bytes() + b"".join(p.read_bytes() for p in state_dir.glob("ponton.db-*"))
    assert secret.encode() not in database and tokens.digest(secret).encode() in database
    listing = run(capsys, monkeypatch, "alice", "tokens:list", "--format", "json")[1]
    assert secret not in listing
    assert [(t["name"], t["user"]) for t in json.loads(listing)] == [("ci", "alice")]


def test_json_gives_name_token_and_expiry(state_dir, capsys, monkeypatch):
    data = json.loads(run(capsys, monkeypatch, "alice", "tokens:create", "ci", "--format", "json")[1])
    assert set(data) == {"name", "token", "expires"} and data["name"] == "ci"
    assert holder(state_dir, data["token"]).user == "alice"


def test_local_roots_token_without_for_acts_as_the_server(state_dir, capsys, monkeypatch):
    secret = run(capsys, monkeypatch, None, "tokens:create", "deploy")[1].splitlines()[-1]
    assert holder(state_dir, secret).user is None


def test_only_an_admin_creates_a_token_for_another_user(state_dir, capsys, monkeypatch):
    code, out, err = run(capsys, monkeypatch, "alice", "tokens:create", "x", "--for", "bob")
    assert code == 7 and "admins only" in err and not out
    assert run(capsys, monkeypatch, "bob", "tokens:list")[1].strip() == "no tokens: ponton tokens:create NAME"
    secret = run(capsys, monkeypatch, "root-admin", "tokens:create", "x", "--for", "bob")[1].splitlines()[-1]
    assert holder(state_dir, secret).user == "bob"
    assert run(capsys, monkeypatch, "root-admin", "tokens:create", "y", "--for", "nobody")[0] == 3


def test_each_user_sees_and_revokes_only_their_own(state_dir, capsys, monkeypatch):
    alices = run(capsys, monkeypatch, "alice", "tokens:create", "ci")[1].splitlines()[-1]
    bobs = run(capsys, monkeypatch, "bob", "tokens:create", "ci")[1].splitlines()[-1]  # names are per user
    assert [t["user"] for t in json.loads(run(capsys, monkeypatch, "bob", "tokens:list", "--format", "json")[1])] == ["bob"]
    everyone = json.loads(run(capsys, monkeypatch, "root-admin", "tokens:list", "--format", "json")[1])
    assert sorted(t["user"] for t in everyone) == ["alice", "bob"]
    assert run(capsys, monkeypatch, "bob", "tokens:revoke", "ci")[0] == 0
    assert holder(state_dir, bobs) is None and holder(state_dir, alices).user == "alice"
    assert run(capsys, monkeypatch, "bob", "tokens:revoke", "ci")[0] == 3


def test_bad_names_and_duplicates_are_one_line_errors(state_dir, capsys, monkeypatch):
    for name in ["", "-x", "a b", "x" * 41, "a\nb", "é"]:
        code, out, err = run(capsys, monkeypatch, "alice", "tokens:create", "--", name)
        assert code == 2 and err.startswith("error: invalid token name") and err.count("\n") == 1
    run(capsys, monkeypatch, "alice", "tokens:create", "ci")
    code, out, err = run(capsys, monkeypatch, "alice", "tokens:create", "ci")
    assert code == 2 and "exists already" in err and not out


def test_an_expired_token_lets_nobody_in(state_dir, capsys, monkeypatch):
    secret = run(capsys, monkeypatch, "alice", "tokens:create", "ci")[1].splitlines()[-1]
    db = sqlite3.connect(state_dir / "ponton.db")
    with db:
        db.execute("UPDATE tokens SET expires = ?", (time.time() - 1,))
    db.close()
    assert holder(state_dir, secret) is None
    assert run(capsys, monkeypatch, "alice", "tokens:list")[1].strip() == "no tokens: ponton tokens:create NAME"


def test_a_user_has_a_bounded_number_of_tokens(state_dir, capsys, monkeypatch):
    p = Ponton(Settings(state_dir=state_dir))
    monkeypatch.setenv("PONTON_USER", "alice")
    for n in range(tokens.LIMITS[tokens.API]):
        tokens.create(p, f"t{n}", 1, None)
    code, _, err = run(capsys, monkeypatch, "alice", "tokens:create", "one-more")
    assert code == 2 and "at most" in err
    p.state.close()


def test_removing_a_users_keys_revokes_their_tokens(state_dir, capsys, monkeypatch):
    secret = run(capsys, monkeypatch, "alice", "tokens:create", "ci")[1].splitlines()[-1]
    assert run(capsys, monkeypatch, None, "ssh-keys:remove", "alice")[0] == 0
    assert holder(state_dir, secret) is None


def test_a_login_link_works_once_for_ten_minutes(state_dir, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, "bob", "dashboard:login")
    link = out.splitlines()[-1]
    assert code == 0 and link.startswith("http://ponton.ponton.localhost/login/ponton_")
    secret = link.rsplit("/", 1)[1]
    assert holder(state_dir, secret) is None  # a login code is no API token
    found = holder(state_dir, secret, tokens.LOGIN, take=True)
    assert found.user == "bob" and 590 < found.expires - time.time() <= 600
    assert holder(state_dir, secret, tokens.LOGIN, take=True) is None


def test_secrets_that_are_not_ours_are_refused_before_any_lookup(state_dir):
    for secret in ["", "x", "ponton_" + "a" * 500, "Bearer ponton_x"]:
        assert holder(state_dir, secret) is None


def test_the_csrf_token_depends_on_the_session():
    assert tokens.csrf_token("ponton_a") != tokens.csrf_token("ponton_b")
    assert tokens.csrf_token("ponton_a") == tokens.csrf_token("ponton_a")
