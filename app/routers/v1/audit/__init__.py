"""The audit context: the log of writes and bulk reads, and its verification."""
