"""bench/: rlm_cloudos against the stock FreeRADIUS SQL pipeline, on one machine, in one run."""
