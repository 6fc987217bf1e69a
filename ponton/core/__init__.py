"""The core: errors, settings, state, locks, validation and the hook API. It imports nothing else of ponton."""
