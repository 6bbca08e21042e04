"""Customer 360 domain library, by area: ui -> dashboards, stewardship, marketing, admin ->
security -> core (see docs/architecture.md). Only lib/ui/ imports streamlit; everything else
is plain Python that a test, the CLI or a job can call."""
