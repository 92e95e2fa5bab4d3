"""Campaigns: define one, submit it for review, review it, cancel it."""
