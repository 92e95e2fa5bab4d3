"""The reports context: periods in the workspace's calendar, funnel, win/loss, team, pipeline, forecasts."""
