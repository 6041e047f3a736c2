"""What an execution environment builds once and builds again when another instance
has accepted a newer ``_config.yml`` or ``theme/`` set: the render function's
publisher, the related function's service."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from tsuzuri.publishing.publisher import Publisher

T = TypeVar("T")


class KeptCurrent(Generic[T]):
    """A fresh build reads the accepted config and theme from the table, so only a warm
    one is checked: one small read a batch, none on a cold start."""

    def __init__(self, build: Callable[[], T], publisher_of: Callable[[T], Publisher]):
        self._build = build
        self._publisher_of = publisher_of
        self._built: T | None = None

    def get(self) -> T:
        """As built, unchecked."""
        if self._built is None:
            self._built = self._build()
        return self._built

    def current(self) -> T:
        """Built again first if another instance accepted newer settings."""
        if self._built is not None and not self._publisher_of(self._built).settings_are_current():
            self._built = None
        return self.get()

    def reload(self) -> None:
        """Forget it: the next use reads the accepted config and theme again."""
        self._built = None
