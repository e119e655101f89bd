"""Optional progress bars: one place that decides between tqdm and a plain iterable."""
from __future__ import annotations

from typing import Any, Iterable, TypeVar

__all__ = ["track"]

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
