"""mediacdn: the CLI and the all-in-one wiring of origin, workers and demo."""
