"""The one exception type users see.

Every check on user input (setup files, parameter files, hardware names, countries) raises
:class:`MlimpactError` with a one-line message that names the offending field. The command line
prints that line and exits with status 2; library users can catch it like any ``ValueError``.
"""


class MlimpactError(ValueError):
    """Bad input: the message is one line, names the field and says what was expected.

    A message quoting the user's text (a key with a newline, say) is folded into one line.
    """

    def __init__(self, message=""):
        super().__init__(" ".join(str(message).split()))
