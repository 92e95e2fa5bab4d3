"""Campaigns: one send to an audience, with variants, reviewed and approved before launch."""
