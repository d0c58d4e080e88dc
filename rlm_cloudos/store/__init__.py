"""PostgreSQL (and later Redis) access for the hot path; returns policy values."""
