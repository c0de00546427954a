"""Errors the user can act on: the CLI prints them as one line and exits with status 2."""


class HarnessError(Exception):
    """Bad input or configuration, described in one line that names the problem."""


class DataUnavailable(HarnessError):
    """A dataset is neither cached nor downloadable (offline): the experiment is skipped."""
