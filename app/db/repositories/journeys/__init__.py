"""Journeys: their versions, enrolments and the steps each ran."""
