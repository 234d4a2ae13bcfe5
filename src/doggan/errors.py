"""Errors a user can fix: bad params, bad data, bad submissions. Steps print them as one line."""


class UserError(Exception):
    """Base for errors caused by input, not by a bug; shown as one line without traceback."""


class ParamError(UserError):
    """A params.yaml value is missing, of the wrong type, or out of range."""


class DataError(UserError):
    """An input file is unreadable, malformed, or hostile.

    `kind` is a short fixed label ("inverted box", "hostile XML") that data-quality reports
    count by, while the message keeps the file-specific details.
    """

    def __init__(self, message, kind="unreadable"):
        super().__init__(message)
        self.kind = kind


class SubmissionError(UserError):
    """A submission zip breaks Kaggle's rules."""
