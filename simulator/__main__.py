"""`python -m simulator run ...`."""

from simulator.cli import main

main()
