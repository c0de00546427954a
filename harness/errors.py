"""Errors the user can act on: the CLI prints them as one line and exits with status 2."""


class HarnessError(Exception):
    """Bad input or configuration, described in one line that names the problem."""


class DataUnavailable(HarnessError):
    """A dataset is neither cached nor downloadable (offline): the experiment is skipped."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line: its type and the first line of its message, shortened."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
