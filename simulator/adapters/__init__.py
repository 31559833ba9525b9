"""The simulator's edges: Kafka in and out (runner, wire, chaos) and the REST API (demand)."""
