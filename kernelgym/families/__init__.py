"""Task families generated in Python: one module per family (host side only)."""
