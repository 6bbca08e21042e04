"""Customer 360 domain library. Only lib/ui/ imports streamlit; everything else is plain Python."""
