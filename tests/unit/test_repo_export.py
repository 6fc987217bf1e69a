"""gitreceive.repo.export: a pushed tree is written out, or refused in one line (git does not fsck pushes)."""

import pytest
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo

from gitreceive import repo
from ponton.core.errors import InvalidInput

FILE, LINK, DIR = 0o100644, 0o120000, 0o040000


def commit(tmp_path, entries) -> str:
    """A bare repo holding one commit of `entries`: (name, mode, content; a list of entries for a subtree)."""
    store = Repo.init_bare(str(tmp_path / "app.git"), mkdir=True).object_store

    def tree(items) -> bytes:
        t = Tree()
        for name, mode, content in items:
            if mode == DIR:
                t.add(name, mode, tree(content))
            else:
                blob = Blob.from_string(content)
                store.add_object(blob)
                t.add(name, mode, blob.id)
        store.add_object(t)
        return t.id

    c = Commit()
    c.tree = tree(entries)
    c.author = c.committer = b"dev <dev@example.org>"
    c.author_time = c.commit_time = c.author_timezone = c.commit_timezone = 0
    c.message = b"crafted"
    store.add_object(c)
    return c.id.decode()


def test_a_plain_tree_is_written_out(tmp_path):
    sha = commit(tmp_path, [(b"Dockerfile", FILE, b"FROM x\n"), (b"src", DIR, [(b"app.py", FILE, b"print()\n")])])
    repo.export(tmp_path / "app.git", sha, tmp_path / "out")
    assert (tmp_path / "out" / "src" / "app.py").read_text() == "print()\n"


@pytest.mark.parametrize("entries", [
    [(b".git", FILE, b"x")],
    [(b"..", DIR, [(b"escaped", FILE, b"x")])],
    [(b"a/../../escaped", FILE, b"x")],
    [(b".gitmodules", LINK, b"/etc/passwd")],
    [(b"lib", LINK, b"TMP"), (b"lib/planted", FILE, b"x")],  # a file written through a symlink written before
])
def test_an_unsafe_or_broken_tree_is_refused_in_one_line(tmp_path, entries):
    entries = [(name, mode, str(tmp_path).encode() if content == b"TMP" else content) for name, mode, content in entries]
    sha = commit(tmp_path, [(b"Dockerfile", FILE, b"FROM x\n"), *entries])
    (tmp_path / "out").mkdir()
    with pytest.raises(InvalidInput) as refused:
        repo.export(tmp_path / "app.git", sha, tmp_path / "out")
    assert "\n" not in str(refused.value) and "pushed tree" in str(refused.value)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "planted").exists()
