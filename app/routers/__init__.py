"""HTTP: thin routers that parse, authorize, call one service and map the result."""
