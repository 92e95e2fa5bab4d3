"""Privacy requests: one person's data exported or erased everywhere it lives."""
