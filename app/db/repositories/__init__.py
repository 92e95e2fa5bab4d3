"""Repositories: the only code that builds queries. Each tenant repository is made for one
workspace and scopes every statement by it; cross-workspace queries live in `system.py` only."""
