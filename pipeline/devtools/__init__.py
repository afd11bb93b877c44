"""Developer tooling: the embedded stack, the generator, the demo, reports, progress checks.

Never imported by a production worker (checked by the layering contracts in
``pyproject.toml``).
"""
