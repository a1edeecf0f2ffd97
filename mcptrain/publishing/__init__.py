"""Publishing a service's training data the seed's way: the three documents
(`documents.py`: the discovery document, the training and test payloads, in the seed's
JSON shapes that `mcptrain import seed` reads back) and the HTTP server that hands them
out (`server.py`: bearer tokens, the `ml_orchestrator` role, an audit log, a rate limit,
consent)."""
