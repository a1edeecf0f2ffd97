"""Converters from other formats into spec files; each writes only new files."""
