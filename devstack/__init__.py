"""The real local stack without Docker: Kafka from Maven Central, PostgreSQL from Debian.

`dronefleet stack up | down | status` and the test fixtures both go through
`devstack.stack`, so what the tests run against is exactly what a developer runs.
"""
