"""Plain, frozen data shared by every layer: plans (what to run), records (what runs), images."""
