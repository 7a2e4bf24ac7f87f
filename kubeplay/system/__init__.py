"""Host checks: what works here and what does not."""
