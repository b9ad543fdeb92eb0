"""Edge cache nodes (CDN POPs), the router and the CDN simulator (see issues 3-5)."""
