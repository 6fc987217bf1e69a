"""builder.sources: the images an app's Dockerfile names, and the refusal of another app's."""

import docker
import pytest

from builder import sources
from ponton.errors import BuildError


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
    with pytest.raises(BuildError, match="is an image of another app|ONBUILD"):
        sources.check(dockerfile, "ponton/app-mine:new-2", Client(KNOWN))
