"""Pulling other services' published training data (`sources:` in mcptrain.yaml):
fetching over HTTP (`fetch.py`, the only module that imports httpx) and turning the
documents into spec folders with their provenance (`pull.py`)."""
