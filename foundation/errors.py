class FoundationUnavailable(RuntimeError):
    """A foundation model cannot be used here (package, weights or credentials missing); the message says which."""
