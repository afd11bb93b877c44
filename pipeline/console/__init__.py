"""Moderator console: alert pages, a JSON API and the ``pulse alerts`` CLI.

The console reads incidents from a read model (:class:`~.ports.AlertReader`)
and changes them only by sending :class:`~schemas.alerts.IncidentCommand`
records (:class:`~.ports.CommandSender`): the incident agent stays the single
writer of incident state, so a page shows an action's effect once the agent
has processed the command.
"""
