"""The workspace context: workspaces, members, API keys and settings."""
