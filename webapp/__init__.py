"""The Flask console and REST API (see docs/ for its state); it calls the service API only."""
