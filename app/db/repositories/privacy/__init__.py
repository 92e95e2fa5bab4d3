"""The privacy context's repositories: privacy requests, where a person's data lives, and the
person-scoped reads and rewrites of an export or an erasure."""
