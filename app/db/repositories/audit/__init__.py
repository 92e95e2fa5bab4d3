"""The audit context's data: the log of one workspace, and the worker's queue of entries to chain."""
