"""Monitoring pages, one module per room (rules, alerts, cases, borrowers)."""
