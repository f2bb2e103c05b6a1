"""Exceptions that skfast raises on purpose."""


class InputError(ValueError):
    """The data handed to skfast cannot be used as it is.

    The message is one line that names the file or column, the value at
    fault and what to change. The command line prints it and exits with
    status 2.

    Examples
    --------
    >>> from skfast.exceptions import InputError
    >>> isinstance(InputError("no such file: data.csv"), ValueError)
    True
    """
