"""Optional progress bar: tqdm on an interactive terminal, silent otherwise."""
from __future__ import annotations

import logging
import sys
import time
from types import TracebackType

logger = logging.getLogger("perturbo")


class Progress:
    """Context manager counting ``total`` units of work; ``update(n)`` advances it by ``n``."""

    def __init__(self, total: int, desc: str, enabled: bool = True) -> None:
        self.total = total
        self.desc = desc
        self.enabled = enabled
        self._bar = None
        self._start = 0.0

    def __enter__(self) -> Progress:
        logger.debug("%s: start (%d)", self.desc, self.total)
        self._start = time.perf_counter()
        if self.enabled and sys.stderr.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=self.total, desc=self.desc, leave=False)
        return self

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.close()
        logger.debug("%s: end after %.2f s", self.desc, time.perf_counter() - self._start)


def progress(total: int, desc: str, enabled: bool = True) -> Progress:
    """Return a progress context manager; ``enabled=False`` never draws a bar (it still logs)."""
    return Progress(total, desc, enabled)
