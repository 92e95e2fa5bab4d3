"""Reports, pure: computations over a workspace's history whose inputs the services gather."""
