"""Side-by-side benchmarks of kubeplay against podman, run with `make bench` (python -m bench)."""
