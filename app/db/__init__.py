"""Database layer: tables, repositories (the only code that builds queries), unit of work."""
