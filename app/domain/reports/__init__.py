"""Reports: periods in the workspace's calendar, funnel, team, pipeline and sales forecasts."""
