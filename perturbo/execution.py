"""Where independent tasks run: in this process (the default) or on a Dask cluster.

``Execution.map(fn, tasks)`` returns ``[fn(*shared, *task) for task in tasks]`` in the order of ``tasks``,
whatever order they finish in. Every task perturbo submits is a pure function of its arguments (a sampled
chunk's random stream is keyed by seed, pattern and chunk), so

- the answer does not depend on the number of workers: the same tasks, the same results, reduced in the
  same order by the caller (bit-identical for any number of single-threaded workers);
- a task lost with its worker is run again elsewhere by Dask's scheduler with the same result.

``workers=k`` starts (once per process, then reuses) a local cluster of ``k`` single-threaded worker
processes; ``scheduler="tcp://host:port"`` connects to a running scheduler; ``client=`` uses an existing
``dask.distributed.Client``. Dask is the optional extra ``distributed``; the serial default needs nothing.
Dask's workers start fresh interpreters: a script that uses ``workers=`` runs its work under
``if __name__ == "__main__":``.
"""
from __future__ import annotations

import atexit
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .progress import progress

CONNECT_SECONDS = 10
_LOCAL_CLUSTERS: dict[int, Any] = {}
"""Clients of the local clusters this module started, by worker count; closed at exit."""


def _dask() -> Any:
    try:
        import distributed
    except ImportError:
        raise ValueError(
            "workers=, scheduler= and client= run on Dask: install the extra with pip install -e \".[distributed]\""
        ) from None
    return distributed


def _close_local_clusters() -> None:
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("distributed")]:
        logging.getLogger(name).setLevel(logging.WARNING)  # closing a cluster we started is not news
    for client in _LOCAL_CLUSTERS.values():
        cluster = client.cluster
        client.close()
        if cluster is not None:
            cluster.close()
    _LOCAL_CLUSTERS.clear()
    atexit.unregister(_close_local_clusters)


@dataclass(frozen=True)
class Execution:
    """Serial (all ``None``), a local cluster of ``workers`` processes, a ``scheduler`` address or a ``client``."""

    workers: int | None = None
    scheduler: str | None = None
    client: Any = None

    @classmethod
    def checked(cls, workers: object = None, scheduler: object = None, client: object = None) -> Execution:
        given = [name for name, value in (("workers", workers), ("scheduler", scheduler), ("client", client))
                 if value is not None]
        if len(given) > 1:
            raise ValueError(f"give one of workers=, scheduler= or client=, not {' and '.join(given)}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive integer (worker processes on this machine), got {workers!r}")
        if scheduler is not None and not (isinstance(scheduler, str) and "://" in scheduler):
            raise ValueError(f"scheduler must be an address such as 'tcp://127.0.0.1:8786', got {scheduler!r}")
        if given:
            distributed = _dask()
            if client is not None and not isinstance(client, distributed.Client):
                raise ValueError(f"client must be a dask.distributed.Client, got {type(client).__name__}")
        return cls(workers, scheduler, client)

    @property
    def distributed(self) -> bool:
        return self.workers is not None or self.scheduler is not None or self.client is not None

    @contextmanager
    def _connected(self) -> Iterator[Any]:
        """The client to submit to: the one given, a connection to ``scheduler`` (closed afterwards) or this
        process's local cluster of ``workers`` processes (started on first use, kept until exit)."""
        if self.client is not None:
            yield self.client
            return
        distributed = _dask()
        if self.scheduler is not None:
            try:
                client = distributed.Client(self.scheduler, timeout=CONNECT_SECONDS)
            except OSError as exc:
                raise ValueError(f"no Dask scheduler answered at {self.scheduler} within {CONNECT_SECONDS} s ({exc}): "
                                 "start one (dask scheduler) or check the address") from None
            with client:
                yield client
            return
        if self.workers not in _LOCAL_CLUSTERS:
            import dask

            # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers; glibc then stops adapting its mmap threshold,
            # every NumPy temporary above 128 KiB becomes a fresh mmap, and draws run 3x slower (measured).
            environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
            environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
                cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                                   dashboard_address=":0")
            _LOCAL_CLUSTERS[self.workers] = distributed.Client(cluster)
            if len(_LOCAL_CLUSTERS) == 1:
                atexit.register(_close_local_clusters)  # registered after Dask's exit handlers: runs before them
        yield _LOCAL_CLUSTERS[self.workers]

    def map(self, fn: Callable[..., Any], tasks: Sequence[tuple], desc: str, show_progress: bool = True,
            shared: tuple = (), priorities: Sequence[float] | None = None,
            on_result: Callable[[int, Any], None] | None = None) -> list[Any]:
        """``[fn(*shared, *task) for task in tasks]`` in task order; ``shared`` is sent to each worker once;
        on a cluster, tasks of higher ``priorities`` (say, their cost: the longest first) are started first.
        ``on_result(index, result)`` runs here as each task finishes (say, to save it)."""
        with progress(len(tasks), desc, enabled=show_progress) as bar:
            if not self.distributed:
                results = []
                for i, task in enumerate(tasks):
                    results.append(fn(*shared, *task))
                    if on_result is not None:
                        on_result(i, results[-1])
                    bar.update()
                return results
            distributed = _dask()
            with self._connected() as client:
                scattered = [client.scatter([value], broadcast=True)[0] for value in shared]  # one object
                futures = [client.submit(fn, *scattered, *task, pure=False, priority=priority)
                           for task, priority in zip(tasks, priorities or [0] * len(tasks))]
                index = {future.key: i for i, future in enumerate(futures)}
                for future in distributed.as_completed(futures):
                    if on_result is not None:
                        on_result(index[future.key], future.result())  # a task's error is raised here
                    bar.update()
                return client.gather(futures)
