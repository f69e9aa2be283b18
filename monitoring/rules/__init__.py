"""The pure logic of the monitoring rules: what a rule sees (base), one module per kind,
and the registry of kinds (registry). No database access except in `history`, which builds
the borrowers' histories in bulk."""
