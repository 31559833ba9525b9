"""`python -m loadtest chaos | bench-e2e`."""

from loadtest.cli import main

main()
