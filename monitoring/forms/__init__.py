"""HTML input parsing of monitoring's pages, one module per room."""
