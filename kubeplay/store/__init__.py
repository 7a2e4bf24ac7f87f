"""The state database: the only sqlite3 user."""
