"""Accounts, contacts and opportunities: what a qualified lead becomes."""
