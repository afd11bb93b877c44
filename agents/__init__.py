"""The Faust agents: one thin module each, wiring pure compute to its inputs and outputs.

Every agent is a :func:`pipeline.ingress.batches.batch_agent` (input topics go
through :func:`pipeline.ingress.edge.input_agent` first).  Which worker role
runs which agent: :mod:`pipeline.app.roles`.
"""
