"""The plugin manager: built-in plugins first, then third-party ones from the `ponton.plugins` entry points."""

import functools

import pluggy

from ponton import hookspecs

ENTRY_POINT_GROUP = "ponton.plugins"


@functools.cache
def manager() -> pluggy.PluginManager:
    from plugins import nginx

    pm = pluggy.PluginManager("ponton")
    pm.add_hookspecs(hookspecs)
    pm.register(nginx, name="nginx")
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm
