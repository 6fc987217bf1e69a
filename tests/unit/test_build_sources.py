"""builder.sources: the images an app's Dockerfile names (read as the engine's parser reads it), and the refusal
of another app's, of image IDs and of remote ADD."""

import os

import docker
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder import sources
from ponton.core.errors import BuildError


def test_images_named_by_from_and_copy():
    text = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.12
FROM --platform=linux/amd64 $BASE AS build
RUN pip install \\
    flask
COPY --from=build /x /y
COPY --from=0 /x /y
COPY --chown=1:1 --from=ponton/app-other:abc /app /stolen
from ${BASE}-slim as Final
COPY --from=FINAL /a /b
ADD --from=d291ba /a /b
FROM scratch
"""
    assert sources.named_images(text) == [
        (3, "python:3.12"), (8, "ponton/app-other:abc"), (9, "python:3.12-slim"), (11, "d291ba")]


def test_continuations_are_joined_as_the_engine_joins_them():
    assert sources.named_images("FROM ponton/app-he\\\nrs:1\n") == [(1, "ponton/app-hers:1")]
    text = "# escape=`\nFROM `\n# a comment\n\nponton/app-`  \nhers:1 AS x\nRUN echo hi\n"
    assert sources.named_images(text) == [(2, "ponton/app-hers:1")]


def test_variables_as_the_engine_expands_them():
    assert sources.named_images("FROM ponton/app-${X}hers:1\n") == [(1, "ponton/app-hers:1")]  # unset: empty
    text = "ARG A=\"ponton/app-hers:1\"\nARG B\nFROM ${A}\nFROM ${B:-ponton/app-x:1}\nFROM ${A:+python:3}\n"
    assert [image for _, image in sources.named_images(text)] == ["ponton/app-hers:1", "ponton/app-x:1", "python:3"]
    inside = "FROM python:3\nARG A=ponton/app-hers:1\nFROM $A\n"  # a stage's ARG is not seen by FROM
    assert sources.named_images(inside) == [(1, "python:3")]


@pytest.mark.parametrize("text", ["ARG A=x\nFROM ${A#x}ponton/app-hers:1\n", "FROM ${A:-${B}}\n",
                                  "FROM python:3\nCOPY --from=$A /a /b\n", "ARG A=x\nARG A=y\nFROM $A\n"])
def test_what_it_cannot_tell_is_refused(text):
    with pytest.raises(BuildError):
        sources.named_images(text)


class Images:
    def __init__(self, known: dict):
        self.known = known

    def get(self, name):
        if name not in self.known:
            raise docker.errors.ImageNotFound(name)
        return type("Image", (), {"attrs": self.known[name]})


class Client:
    def __init__(self, known: dict):
        self.images = Images(known)


KNOWN = {
    "ponton/base:trixie": {"RepoTags": ["ponton/base:trixie"]},
    "python@sha256:ab": {"RepoTags": [], "RepoDigests": ["python@sha256:ab"]},
    "ponton/app-mine:old-1": {"RepoTags": ["ponton/app-mine:old-1"]},
    "ponton/app-hers:abc-1": {"RepoTags": ["ponton/app-hers:abc-1"]},
    "1a2b3c": {"RepoTags": ["ponton/app-hers:abc-1"]},  # an ID prefix of her image
    "9f8e7d": {"RepoTags": [], "RepoDigests": []},  # an intermediate layer of some build
    "ponton/app-mine:trap-1": {"RepoTags": ["ponton/app-mine:trap-1"],
                               "Config": {"OnBuild": ["COPY --from=1a2b3c /app /x"]}},
}


@pytest.mark.parametrize("source", ["ponton/base:trixie", "python@sha256:ab", "ponton/app-mine:old-1", "golang:1"])
def test_allowed(source):
    sources.check(f"FROM {source}\n", "ponton/app-mine:new-2", Client(KNOWN))


@pytest.mark.parametrize("dockerfile", ["FROM ponton/app-hers:abc-1\n", "FROM 1a2b3c\n", "FROM 9f8e7d\n",
                                        "FROM ponton/base:trixie\nCOPY --from=1a2b3c /app /x\n",
                                        "FROM ponton/app-mine:trap-1\n"])
def test_another_apps_image_is_refused(dockerfile):
    with pytest.raises(BuildError, match="this image is not allowed here"):
        sources.check(dockerfile, "ponton/app-mine:new-2", Client(KNOWN))


@pytest.mark.parametrize("there, not_there", [("FROM ponton/app-hers:abc-1", "FROM ponton/app-hers:nope-1"),
                                              ("FROM 1a2b3c", "FROM 0f0f0f"),
                                              ("FROM docker.io/ponton/app-hers:abc-1", "FROM ponton/app-x:1")])
def test_a_refusal_does_not_tell_whether_the_image_exists(there, not_there):
    messages = []
    for text in (there, not_there):
        with pytest.raises(BuildError) as refused:
            sources.check(text + "\n", "ponton/app-mine:new-2", Client(KNOWN))
        messages.append(str(refused.value).replace(text.split()[1], "NAME"))
    assert messages[0] == messages[1]
    assert "another app" not in messages[0]


@pytest.mark.parametrize("trigger", ["COPY --from=python:3 /a /b", "ADD http://127.0.0.1:9180/metrics /m"])
def test_onbuild_triggers_that_copy_or_fetch_are_refused(trigger):
    known = {"ponton/app-mine:trap-1": {"RepoTags": ["ponton/app-mine:trap-1"], "Config": {"OnBuild": [trigger]}}}
    with pytest.raises(BuildError, match="not allowed here"):
        sources.check("FROM ponton/app-mine:trap-1\n", "ponton/app-mine:new-2", Client(known))


BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]  # splitlines breaks, the engine not


@pytest.mark.parametrize("char", BREAKS)
def test_lines_end_at_newlines_only(char):
    # A line that Python would end with an escape then a break is not continued: the FROM after it counts.
    text = f"FROM python:3\nRUN echo \\{char}\nFROM ponton/app-hers:1\n"
    assert sources.named_images(text) == [(1, "python:3"), (3, "ponton/app-hers:1")]
    # And a comment line stays one comment, whatever it holds.
    assert sources.named_images(f"# note{char}FROM ponton/app-hers:1\nFROM python:3\n") == [(2, "python:3")]


def test_keywords_whitespace_and_quotes_as_the_engine_reads_them():
    assert sources.named_images("\u2028 fRoM\tponton/app-hers:1\n") == [(1, "ponton/app-hers:1")]
    assert sources.named_images("FROM\u00a0ponton/app-hers:1\n") == []  # one unknown word: no FROM at all
    assert sources.named_images('FROM ponton/app-"he"rs:1\n') == [(1, "ponton/app-hers:1")]
    assert sources.named_images("FROM \\\n  ponton/app-hers:1\r\n") == [(1, "ponton/app-hers:1")]
    text = 'FROM python:3\nCOPY --chown=1 --from="ponton/app-h"\\ers:1 /a /b\n'
    assert sources.named_images(text) == [(1, "python:3"), (2, "ponton/app-hers:1")]
    # 20.10 unescapes flags with a backslash whatever `# escape=` says, newer parsers with the directive's: both
    text = "# escape=`\nFROM python:3\nCOPY --from=ponton/app-h\\ers:1 /a /b\n"
    assert {image for _, image in sources.named_images(text)} == {"python:3", "ponton/app-hers:1",
                                                                  "ponton/app-h\\ers:1"}


@pytest.mark.parametrize("text", ["FROM ponton/app-he\\rs:1\n", "FROM python:3\rFROM ponton/app-hers:1\n",
                                  "FROM python:3\nRUN <<EOF\necho hi\nEOF\n", "# check=x\n# escape=`\nFROM a\n",
                                  "# escape=x\nFROM a\n"])
def test_what_engines_read_differently_is_refused(text):
    with pytest.raises(BuildError):
        sources.named_images(text)


@pytest.mark.parametrize("add", ["ADD http://127.0.0.1:9180/metrics /m", "add HTTPS://example.com/x /x",
                                 "ADD 'ht'tp://127.0.0.1/ /m", 'ADD ["https://x/y", "/z"]', "ADD git@github.com:a/b /c",
                                 "ADD --chown=1 a.txt $URL /x", "ADD \\\n http://127.0.0.1:9180/ /m"])
def test_remote_add_is_refused(add):
    with pytest.raises(BuildError, match="ADD from a URL or a variable is not allowed"):
        sources.check(f"FROM python:3\n{add}\n", "ponton/app-mine:new-2", Client(KNOWN))


def test_local_add_is_allowed():
    sources.check("FROM golang:1\nADD app.tar.gz /srv/\nADD a.tar $HOME/\n", "ponton/app-mine:new-2", Client(KNOWN))


def test_a_symlinked_dockerfile_is_refused(tmp_path):
    (tmp_path / "real").write_text("FROM python:3\n")
    os.symlink("real", tmp_path / "Dockerfile")
    with pytest.raises(BuildError, match="Dockerfile is a symbolic link"):
        sources.read(tmp_path)
    os.unlink(tmp_path / "Dockerfile")
    (tmp_path / "Dockerfile").write_text("FROM python:3\n")
    assert sources.read(tmp_path) == "FROM python:3\n"


LINE_TEXT = st.lists(st.sampled_from(["\\", "`", " ", "\t", "#", "a", "FROM", "x", "=", "escape", "\"", "'",
                                     *BREAKS, "\u00a0", "\ufeff", "é"]), max_size=12).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE_TEXT, max_size=6), LINE_TEXT)
def test_property_an_instruction_after_a_finished_line_is_always_seen(lines, tail):
    """Whatever comes before, a FROM on the line after one that does not end with the escape character (by the
    engine's reading: lines end at \\n only) is seen, or the whole file is refused."""
    if any(c in tail[-1:] for c in "\\` \t"):
        tail += "z"
    text = "\n".join([*lines, "RUN ok " + tail, "FROM ponton/app-hers:1"]) + "\n"
    try:
        found = sources.named_images(text)
    except BuildError:
        return
    assert (len(lines) + 2, "ponton/app-hers:1") in found


@settings(max_examples=300, deadline=None)
@given(LINE_TEXT)
def test_property_a_comment_line_is_one_comment(comment):
    text = f"FROM python:3\n# {comment}\nFROM golang:1\n"
    assert sources.named_images(text) == [(1, "python:3"), (3, "golang:1")]
