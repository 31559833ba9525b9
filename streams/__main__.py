"""`python -m streams worker`."""

from streams.cli import main

main()
