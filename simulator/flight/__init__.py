"""Flight physics: the fleet engine and what it steps with. Sans-I/O (no Kafka, no HTTP)."""
