"""The audit context: the log's entries and its verification, as /v1/audit-log answers them."""
