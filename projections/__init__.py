"""Projections: the Kafka log sunk into PostgreSQL / TimescaleDB read models.

`migrate` applies the versioned schema; `sink` consumes topics and writes rows with
COPY, storing the consumed offsets in the same transaction; the SQL views defined by the
migrations are the read contract of the API, the dashboard and the notebooks.
"""
