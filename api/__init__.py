"""The gateway: REST commands (become events), queries (read the views), websockets.

`main.create_app(settings)` is the composition root; routes live in `routes/`, the
dependencies in `deps`, the public schemas in `schemas`.
"""
