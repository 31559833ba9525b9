"""Load and fault harness of the whole platform: `make bench-e2e` and `make chaos`.

It drives the real processes (devstack's services, the simulator CLI) on a private
stack, so it never disturbs the shared Kafka and PostgreSQL that tests use, and reads
back what Kafka and the projections hold to count what was lost or doubled.
"""
