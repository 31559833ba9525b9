"""`python -m api serve`."""

from api.cli import main

main()
