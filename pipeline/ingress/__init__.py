"""Where records enter: the batch loop every agent runs, edge validation, the DLQ."""
