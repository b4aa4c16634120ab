"""Code shared by tools/models and tools/diffusion (import as ``common.<module>`` with tools/ on sys.path)."""
