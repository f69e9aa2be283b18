"""decisions over the REST API (DRF): override proposals and their decisions."""
