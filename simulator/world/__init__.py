"""The world the fleet flies in: scenarios, airports, demand and the clock. Sans-I/O."""
