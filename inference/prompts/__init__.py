"""Versioned system prompts, one TOML file per agent role; loaded and checked by `inference.templates`."""
