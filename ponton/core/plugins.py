"""The plugin manager: every plugin, the built-in nginx proxy included, is found through the `ponton.plugins`
entry points (setup.cfg declares the built-in ones), so the core knows no plugin by name."""

import functools

import pluggy

from ponton.core import hookspecs

ENTRY_POINT_GROUP = "ponton.plugins"


@functools.cache
def manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("ponton")
    pm.add_hookspecs(hookspecs)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return pm
