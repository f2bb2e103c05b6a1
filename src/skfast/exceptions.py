"""Exceptions that skfast raises on purpose."""


class InputError(ValueError):
    """The data or options handed to skfast cannot be used as they are.

    The message is one line that names the file, column or option, the value
    at fault and what to change. The command line prints it and exits with
    status 2.

    Parameters
    ----------
    message : str
        The one-line explanation.
    option : str, default=None
        The option at fault, when it is one, so the command line can name
        its flag.

    Examples
    --------
    >>> from skfast.exceptions import InputError
    >>> isinstance(InputError("no such file: data.csv"), ValueError)
    True
    """

    def __init__(self, message, *, option=None):
        super().__init__(message)
        self.option = option
