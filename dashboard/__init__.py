"""The operators' Streamlit dashboard (issue 7). It reads the projections' views only."""
