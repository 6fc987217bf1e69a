"""The web face's git over HTTPS: what the git-http process says on stderr is read to its end."""

import asyncio

from ponton.web.githttp import _tail


def test_an_error_line_after_other_output_is_not_missed():
    async def said() -> bytes:
        stream = asyncio.StreamReader()
        stream.feed_data(b"waiting for lock on app a (held by ps:retire)\n")

        async def later():
            await asyncio.sleep(0)  # the error line comes once the reader has taken the first chunk
            stream.feed_data(b"error: access denied\n")
            stream.feed_eof()

        feeding = asyncio.create_task(later())
        text = await _tail(stream)
        await feeding
        return text

    assert asyncio.run(said()).splitlines()[-1] == b"error: access denied"


def test_a_long_output_is_drained_and_its_end_kept():
    async def said() -> bytes:
        stream = asyncio.StreamReader()
        stream.feed_data(b"x" * (1 << 20) + b"\nerror: the end\n")
        stream.feed_eof()
        return await _tail(stream)

    text = asyncio.run(said())
    assert text.endswith(b"error: the end\n") and len(text) <= 1 << 16
