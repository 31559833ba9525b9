"""The drones: a sans-I/O flight engine, its Kafka adapter and the load-test CLI.

`engine` knows no clock, no network and no randomness but a seeded generator: it is
given the time and assignments and returns events. `runner` feeds it from Kafka and
the wall clock; `demand` creates delivery requests; `cli` puts it all on a command line.
"""
