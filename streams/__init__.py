"""Faust stream processors: validation, dispatch, the delivery aggregate and the ETA.

The pure parts (`delivery`, `eta`, `validation`, `dispatch`, `geodesy`) know nothing of
Kafka; `app` wires them to topics and tables, and `cli` runs a worker.
"""
