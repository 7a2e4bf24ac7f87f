"""Manifests to PodPlans: pure, no I/O beyond reading the given files."""
