"""Errors of the local stack, each with the fix a newcomer needs to read."""


class StackError(Exception):
    """Base class: the local stack could not be brought to the asked state."""


class MissingToolError(StackError):
    """A program the stack needs (Java, Maven, PostgreSQL) is not installed."""

    def __init__(self, tool: str, how_to_install: str) -> None:
        super().__init__(f"{tool} is missing. Install it with: {how_to_install}")
        self.tool = tool
        self.how_to_install = how_to_install


class ServiceStartError(StackError):
    """A server was started but did not become healthy; the message names its log."""
