"""The Dockerfile check reads a Dockerfile as the engine does: the real engine's steps for tricky files (unicode
line breaks, comments, continuations, the escape directive, Go whitespace) are the check's instructions."""

import io
import re
import tarfile

import docker
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder import sources
from tests.conftest import BASE_IMAGE

CASES = [
    f"FROM {BASE_IMAGE}\nRUN echo a \\\x85\nRUN echo b\n",  # no continuation: \x85 ends nothing
    f"FROM {BASE_IMAGE}\nRUN echo a \\\x0c\nRUN echo b\n",
    f"FROM {BASE_IMAGE}\nRUN echo a \\\u2028\nrun echo b\n",
    f"FROM {BASE_IMAGE}\n# note\u2028RUN echo hidden\nRUN echo b\n",  # one comment line
    f"FROM {BASE_IMAGE}\nRUN echo a \\\n\x0c\n# c\n  echo b\nrun echo c\n",
    f"\ufeff# escape=`\nFROM {BASE_IMAGE}\nRUN echo a `\n echo b\nRUN echo \\\n",
    f"FROM {BASE_IMAGE}\n\u2028  RUN echo nbsp\u00a0x\nRUN\techo tab\r\n",
    f"FROM {BASE_IMAGE} AS one\nRUN echo one\nfrom one\nCOPY --from=one /etc/hostname /x\n",
]


def engine_steps(client, text: str) -> tuple[list[str], set[str]]:
    """The keywords of the steps the engine runs for `text`, and the images it built."""
    archive = io.BytesIO()
    data = text.encode()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    archive.seek(0)
    steps, built = [], set()
    for chunk in client.api.build(fileobj=archive, custom_context=True, decode=True, rm=True, forcerm=True):
        assert "error" not in chunk, chunk
        step = re.match(r"Step \d+/\d+ : (\S+)", chunk.get("stream", ""))
        if step:
            steps.append(step[1].upper())
        if "aux" in chunk:
            built.add(chunk["aux"]["ID"])
    return steps, built


@pytest.mark.parametrize("text", CASES)
def test_the_checks_instructions_are_the_engines_steps(text):
    _compare(text)


BREAKS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]  # Python's line breaks, not Go's
WORD = st.lists(st.sampled_from(["a", "b", " ", "\t", "\\", "#", "\u00a0", *BREAKS]), max_size=8).map("".join)
LINE = st.one_of(WORD.map(lambda w: f"RUN echo {w}"), WORD.map(lambda w: f"# {w}"),
                 st.sampled_from(["", " ", "\t", "\x0c", "\u2028"]))


@settings(max_examples=15, deadline=None, database=None)
@given(st.booleans(), st.lists(LINE, min_size=1, max_size=6))
def test_property_the_engine_and_the_check_read_unicode_breaks_alike(backtick, lines):
    text = ("# escape=`\n" if backtick else "") + "\n".join([f"FROM {BASE_IMAGE}", *lines, "RUN echo end"]) + "\n"
    _compare(text)


def _compare(text: str):
    client = docker.from_env()
    built = set()
    try:
        steps, built = engine_steps(client, text)
        assert [i[1] for i in sources.instructions(text)] == steps  # (line, KEYWORD, ...)
    finally:
        for image in built:
            try:
                client.images.remove(image)
            except docker.errors.APIError:
                pass
        client.close()
