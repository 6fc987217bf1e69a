"""ponton: a self-hosted PaaS. `git push`, Docker containers, nginx in front."""
