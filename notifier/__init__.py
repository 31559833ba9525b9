"""The notifier: posts signed webhooks of delivery changes to the businesses' endpoints.

One more consumer of the log (group `<prefix>notifier`): it folds the endpoints from the
businesses topic, turns delivery events and material ETA changes into messages in its
outbox (PostgreSQL schema `notifier`, written with its offsets in one transaction), and
a dispatcher posts them, at least once, in order per delivery and endpoint, retrying
with backoff. Why this shape: docs/decisions/0004-webhooks.md.
"""
