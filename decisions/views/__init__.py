"""Decisions' pages, one module per room: scoring (scorecards, features, policies, the borrower's
score panel and reasons)."""
