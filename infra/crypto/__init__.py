"""Envelope encryption, keys and signatures (docs/adr/0023-envelope-encryption.md)."""
