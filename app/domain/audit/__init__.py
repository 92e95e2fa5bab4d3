"""The audit log: who wrote what, and who read in bulk, from where and when, chained for tamper evidence."""
