"""What drives pods over time, each run by the short process that changed something (play, down,
the exit callback): never a daemon. Services and their endpoints live here."""
