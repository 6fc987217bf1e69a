"""builder/engine.py against the real engine: what a pusher reads when the engine refuses a build."""

import pytest

from builder import engine
from ponton.errors import BuildError
from ponton.settings import Settings


def test_a_refused_build_request_says_the_engines_reason():
    with engine.context({"index.html": b"no Dockerfile in this context\n"}) as context, \
            pytest.raises(BuildError) as refused:
        engine.build(Settings(), context, "ponton-test/refused", lambda line: None)
    assert str(refused.value) == "the engine refused the build: Cannot locate specified Dockerfile: Dockerfile"
