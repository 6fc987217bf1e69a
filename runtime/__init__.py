"""Containers on the Docker engine: what to run (spec), whether it is healthy (health), and the swap (rollout)."""
