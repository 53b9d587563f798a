"""The n8n side of the platform: its public API client and what is built from an installed n8n."""
