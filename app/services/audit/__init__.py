"""The audit context: the log's entries (recorded in the request's transaction), reading and
verifying it, retention and erasure; the worker's chain stamping."""
