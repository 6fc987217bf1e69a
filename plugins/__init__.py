"""ponton's built-in plugins, written against the same hook API (ponton.hookspecs) as third-party ones."""
