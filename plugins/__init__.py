"""ponton's built-in plugins, written against the same hook API (ponton.core.hookspecs) as third-party ones."""
