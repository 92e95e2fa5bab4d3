"""The privacy context's rules: who a request is about, and what erasing them leaves of each row."""
