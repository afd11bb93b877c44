"""Assembling a worker: settings, roles, the Faust app, its web routes."""
