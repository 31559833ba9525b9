"""`python -m notifier [run | migrate]`."""

from notifier.cli import main

main()
