"""sqlite3's C module, which is all of sqlite3 that kubeplay uses.

The sqlite3 package is `from _sqlite3 import *` plus adapters and converters for datetime values,
which kubeplay never stores (its times are numbers), and importing datetime for them was ~3 ms of
every command that opens the store. Where the C module is not there under that name, the package.
"""

try:
    import _sqlite3 as sqlite3
except ImportError:  # another Python implementation
    import sqlite3

__all__ = ["sqlite3"]
