"""Storage (the warehouse owns every connection), configuration, settings, field rules."""
