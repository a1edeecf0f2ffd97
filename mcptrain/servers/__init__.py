"""Live MCP servers: listing their tools (`client.py`, the only module that imports the
`mcp` SDK), writing them into a service's ToolSet (`toolset.py`), and comparing the
ToolSets with what the servers answer (`drift.py`, with the semver impact of each
difference from `schema_diff.py`)."""
