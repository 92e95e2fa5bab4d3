"""Headless CRM API for lead management and customer retention."""
