"""The CDN simulator (issue 5): SimPy model, scenarios, reports and plots."""
