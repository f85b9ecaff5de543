"""The one exception type for bad user input: the CLI prints its message as a single line."""


class MaxlError(ValueError):
    """A problem with what the user gave us; the message names the problem and the fix."""
