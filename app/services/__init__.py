"""Use cases: load through repositories, ask the domain, write. They never commit: whoever runs
the use case commits once (app/routers/route.py for HTTP)."""
