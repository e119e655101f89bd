"""Optional progress bars: one place that decides between tqdm and a plain iterable."""
from __future__ import annotations

from typing import Any, Iterable, TypeVar

__all__ = ["track", "bar", "say"]

T = TypeVar("T")


def track(iterable: Iterable[T], enabled: bool = True, **tqdm_kwargs: Any) -> Iterable[T]:
    """``iterable`` wrapped in a tqdm bar when ``enabled``, else returned unchanged.

    Parameters
    ----------
    iterable : iterable
    enabled : bool
        Show the bar (the CLI's ``-q`` turns it off).
    **tqdm_kwargs
        ``desc``, ``unit``, ``leave``, ``total`` ... passed to ``tqdm.auto.tqdm``.
    """
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **tqdm_kwargs)


class _NoBar:
    """Stands in for a tqdm bar when progress is off: every call does nothing."""

    def update(self, n: float = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def bar(enabled: bool = True, **tqdm_kwargs: Any) -> Any:
    """A manually driven progress bar (``update``, ``set_postfix``, ``close``).

    For loops that cannot be written as one iterable (an epoch retried after a
    divergence, a fit with a variable number of steps).

    Parameters
    ----------
    enabled : bool
        Show the bar; when False a do-nothing object with the same methods is returned.
    **tqdm_kwargs
        ``total``, ``initial``, ``desc``, ``unit`` ... passed to ``tqdm.auto.tqdm``.
    """
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(**tqdm_kwargs)


def say(msg: str) -> None:
    """One status line ``cellshapes: <msg>`` on stderr (warnings, notes of long work)."""
    import sys

    print(f"cellshapes: {msg}", file=sys.stderr)
