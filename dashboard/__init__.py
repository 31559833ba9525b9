"""The operators' Streamlit dashboard: the live fleet and deliveries, from the views only.

`queries` reads the projections' SQL views, `lag` asks Kafka for the consumer groups'
lag, `maps` builds the pydeck maps and `app` renders it all with Streamlit.
"""
