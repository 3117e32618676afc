"""Alembic migrations of the state store, shipped inside the package.

They are applied by :meth:`monitor.store.db.Store.open` with an Alembic ``Config`` built in code (no
``alembic.ini``). To add one: copy ``versions/0001_initial.py``, set ``down_revision`` to the previous
revision, and change ``monitor/store/models.py`` the same way (``tests/store/test_store.py`` checks they agree).
"""

from pathlib import Path

LOCATION = Path(__file__).resolve().parent
