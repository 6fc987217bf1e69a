"""ponton's benchmarks: `python -m bench` runs every measurement against an isolated ponton (ponton.testing.Sandbox)
and prints one table. Each measurement is a module with a `run(report, ...)` function."""
