"""`python -m projections migrate | sink`."""

from projections.cli import main

main()
