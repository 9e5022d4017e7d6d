"""Local volunteers behind the provider interface."""
