"""The built-in commands, one module per topic; each module lists its commands in COMMANDS."""
