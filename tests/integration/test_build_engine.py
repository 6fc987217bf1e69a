"""builder/dockerbuild.py against the real engine: what a pusher reads when the engine refuses a build."""

import pytest

from builder import dockerbuild
from ponton.core.errors import BuildError
from ponton.core.settings import Settings


def test_a_refused_build_request_says_the_engines_reason():
    with dockerbuild.context({"index.html": b"no Dockerfile in this context\n"}) as context, \
            pytest.raises(BuildError) as refused:
        dockerbuild.build(Settings(), context, "ponton-test/refused", lambda line: None)
    assert str(refused.value) == "the engine refused the build: Cannot locate specified Dockerfile: Dockerfile"
