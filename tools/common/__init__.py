"""Code shared by tools/models, tools/diffusion, tools/jpeg, tools/video and the tests (import as ``common.<module>`` with tools/ on sys.path)."""
