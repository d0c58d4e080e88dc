"""Bulk subscriber import: file formats (formats.py) and row validation (rows.py), both pure;
the command is cloudos.commands.subscriber_import, the SQL cloudos.store.bulk."""
