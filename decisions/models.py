"""Scorecards, scores with reason codes, the limit policy and overrides.

Empty until the scoring issue: the app is installed now so its migrations start at 0001 and the
other apps can point at it without a rename later.
"""
