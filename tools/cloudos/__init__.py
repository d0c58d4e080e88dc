"""The `cloudos` admin CLI and its helpers."""
