"""Leads: people or companies that showed interest and left contact details but have not bought."""
