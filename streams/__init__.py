"""The stream worker: validation, dispatch, the delivery aggregate and the ETA.

Four rooms, each importing only the ones below it (import-linter keeps them so):
`domain` (pure: the aggregate, the ETA, validation, choosing a drone, geodesy),
`processors` (Kafka-free: records in, records out, tables as mappings), `runtime` (the
batched aiokafka stages, the Faust app hosting the dispatcher, `worker.bootstrap`
wiring them) and `ops` (operator tools, which never build the worker); `cli` runs one.
"""
