"""The tools' named statements: one module per area, each a set of functions over a ``Connection``.

Every statement is composed with SQLAlchemy Core on the ``Table`` objects of
``tables`` (optional filters and partial column sets included) or, for calls to
the schema's own SQL functions, a fixed ``text()`` constant with bound
parameters named at module level. SQL is never assembled from strings here:
tests/unit/test_sql_strings.py fails the build if it is.

Functions take plain values (ids, names, an explicit ``now``) and return rows;
they never read the clock, commit, or decide what a command prints.
"""
