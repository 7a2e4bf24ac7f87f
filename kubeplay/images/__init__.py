"""Images: references, registries, the content store, layers, archives."""
