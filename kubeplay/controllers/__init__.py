"""What drives pods over time, each run by a short process or a small per-pod one, never a daemon:
the probe monitor (liveness, readiness, startup, postStart), readiness and pod conditions, waiting
for pods, and Services' endpoints (rewritten by the short process that changed them: play, down,
the exit callback). Imports point down to kubeplay.pods; kubeplay.cli calls in.

Nothing is imported here: the monitor process imports this package and must stay small."""
