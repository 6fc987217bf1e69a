"""The web face, a second face beside the CLI: the JSON API (api.py), the dashboard and its login (pages.py),
git over HTTPS (githttp.py), served by `ponton web` (service.py). It has no rule of its own: each request runs
the ponton command it stands for, as the user its token or session names (run.py)."""
