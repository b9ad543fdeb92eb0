"""HLS model, rendering and parsing, and the catalog/manifest database."""
