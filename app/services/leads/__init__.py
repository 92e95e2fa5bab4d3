"""The leads context: leads, forms and capture, engagements and scoring, SLA, routing and teams, duplicates,
qualification, activities, tasks."""
