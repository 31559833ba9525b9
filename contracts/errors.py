"""Errors raised by the contracts package.

`ContractError` is the root so callers can catch everything the wire format refuses
with one clause; `DecodeError` carries a short machine-friendly reason that the stream
processors copy into dead-letter records.
"""


class ContractError(Exception):
    """Base class of every error the contracts package raises."""


class DecodeError(ContractError):
    """Bytes that are not a valid event of any known type and version.

    `reason` is a stable, short category (for counting in the dead-letter topic);
    `detail` is the decoder's own message, for humans.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
