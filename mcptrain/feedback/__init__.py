"""The production feedback loop: failures and human corrections become example files
(`source: production`) — PII scrubbed (`pii.py`), duplicates and test-scenario
look-alikes rejected, validated, a new file per ingest (`ingest.py`)."""
