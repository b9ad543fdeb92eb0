"""The CDN simulator: SimPy model, workloads and traces, scenarios, reports and plots."""
