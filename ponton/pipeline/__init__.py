"""The pipeline: deploy (build → release → rollout → route), routing, and the watchdog that keeps apps running."""
