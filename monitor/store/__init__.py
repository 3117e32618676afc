"""The state store (the edge that owns the database): tables, migrations, queries, the instance lock."""
