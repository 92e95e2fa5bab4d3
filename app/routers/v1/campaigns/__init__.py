"""Campaigns on HTTP."""
