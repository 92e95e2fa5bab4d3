"""Campaigns and their reviews."""
