"""The errors v2v reports to its users: one clear line each, exit code 1."""

from __future__ import annotations


class V2VError(Exception):
    """An error the user can act on. The CLI prints its message alone and exits with code 1."""

    exit_code = 1


class BadInput(V2VError):
    """An input file or folder that is missing, unreadable, or not what the command needs."""


class OutputExists(V2VError):
    """An output that already exists (the user must pass --overwrite) or that would replace an input."""


class MissingModel(V2VError):
    """A model file or trained model that cannot be found."""


class MissingBackend(V2VError):
    """An optional dependency that is not installed; the message names how to install it."""


def first_line(error: BaseException) -> str:
    """The first line of an error's message (libraries raise pages of text), or its type's name when it has none."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
