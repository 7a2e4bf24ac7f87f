"""PodRecords back to Kubernetes YAML."""
