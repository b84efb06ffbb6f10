"""Command line: one module per command group; each parses, calls core, prints."""
