"""CloudOS RADIUS: the rlm_python3 module and the shared policy and store it stands on."""
