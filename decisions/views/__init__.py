"""Decisions' pages, one module per room: scoring (scorecards, features, the borrower's score
panel and reasons), policies (versions, the editor, activation, simulations), runs (whole-book
scoring runs), reports (the champion / challenger comparison)."""
