"""Specs: the YAML a team commits, read with file:line, validated before anything runs."""
