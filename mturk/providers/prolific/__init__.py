"""Prolific: REST client, the participant pages, and the provider."""
