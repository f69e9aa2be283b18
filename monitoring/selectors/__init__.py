"""Monitoring reads for pages, the API and tasks; one module per room (timeline, ...)."""
