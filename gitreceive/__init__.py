"""The way code arrives: SSH keys and the forced command (ssh), bare repos with a pre-receive hook that exports
the pushed tree with dulwich (repo, hook), and tarballs (archive)."""
