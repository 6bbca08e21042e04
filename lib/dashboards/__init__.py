"""Metrics, aggregates, customer search and 360, chart builders, filters."""
