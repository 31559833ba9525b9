"""`python -m dashboard`: serve the dashboard (see `dashboard.cli`)."""

from dashboard.cli import main

main()
