"""The drones: sans-I/O flight physics in a world, Kafka and HTTP adapters, a load-test CLI.

Three rooms, each importing only the ones below it (import-linter keeps it so):
- `simulator.flight`: the engine and its physics (kinematics, battery, wind, routes
  around no-fly zones); no clock, no network, no randomness but a seeded generator. It
  is given the time and assignments and returns what the drones report.
- `simulator.world`: where and when it flies (scenarios, airports, demand, the clock);
  pure as well.
- `simulator.adapters`: the runner that feeds the engine from Kafka and the wall clock,
  the wire form of its reports, the chaos layer, the API client for demand.
`simulator.cli` puts it all on a command line.
"""
