"""Customer 360 domain library. Only lib/ui.py imports streamlit; everything else is plain Python."""
