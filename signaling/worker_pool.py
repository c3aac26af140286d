"""WorkerPool: the media worker processes of one server, replaced when they die."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from sfu import SfuError, Worker, WorkerDiedError, create_worker

# Seconds to wait before each attempt to start a replacement for a dead worker. The last
# delay repeats until a worker starts or the pool closes.
REPLACE_DELAYS = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0)
CLOSE_TIMEOUT = 5.0

WorkerFactory = Callable[..., Awaitable[Worker]]


class WorkerPool:
    """Start `size` workers, tell `on_died` when one dies, and start its replacement.

    `worker_options` are keyword arguments of `sfu.create_worker()`.
    """

    def __init__(
        self,
        size: int,
        *,
        worker_options: dict[str, Any],
        on_died: Callable[[Worker, WorkerDiedError], None],
        factory: WorkerFactory = create_worker,
    ) -> None:
        self.size = size
        self._options = worker_options
        self._on_died = on_died
        self._factory = factory
        self._workers: list[Worker] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.deaths = 0
        self._logger = structlog.get_logger("signaling.worker_pool")

    @property
    def workers(self) -> list[Worker]:
        """The live workers, in start order."""
        return [worker for worker in self._workers if not worker.closed]

    async def start(self) -> None:
        """Start every worker; on failure close those that started and raise SfuError."""
        results = await asyncio.gather(
            *(self._factory(**self._options) for _ in range(self.size)), return_exceptions=True
        )
        started = [result for result in results if isinstance(result, Worker)]
        errors = [result for result in results if isinstance(result, BaseException)]
        for worker in started:
            self._add(worker)
        if errors:
            await self.close()
            raise errors[0]
        self._logger.info("workers started", pids=[worker.pid for worker in started])

    def _add(self, worker: Worker) -> None:
        self._workers.append(worker)

        def died(error: WorkerDiedError) -> None:
            self._handle_death(worker, error)

        worker.on("died", died)

    def _handle_death(self, worker: Worker, error: WorkerDiedError) -> None:
        self.deaths += 1
        if worker in self._workers:
            self._workers.remove(worker)
        self._logger.error("worker died", worker=worker.pid, error=str(error))
        try:
            self._on_died(worker, error)
        finally:
            if not self._closed:
                task = asyncio.create_task(self._replace(), name=f"replace worker {worker.pid}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _replace(self) -> None:
        attempt = 0
        while not self._closed:
            await asyncio.sleep(REPLACE_DELAYS[min(attempt, len(REPLACE_DELAYS) - 1)])
            attempt += 1
            try:
                worker = await self._factory(**self._options)
            except SfuError as error:
                self._logger.error(
                    "cannot start a replacement worker", attempt=attempt, error=str(error)
                )
                continue
            if self._closed:
                worker.close()
                await worker.wait_closed()
                return
            self._add(worker)
            self._logger.info("replacement worker started", worker=worker.pid, attempt=attempt)
            return

    def stop_replacing(self) -> None:
        """Start no more replacements, because the server is shutting down.

        A service manager may signal the workers together with the server, so they can
        die during shutdown.
        """
        self._closed = True

    async def close(self) -> None:
        """Stop replacing workers, close every worker and wait for the processes to exit."""
        self._closed = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        workers = list(self._workers)
        self._workers.clear()
        self._logger.info("closing workers", count=len(workers))
        for worker in workers:
            worker.close()
        if workers:
            _, pending = await asyncio.wait(
                [asyncio.ensure_future(worker.wait_closed()) for worker in workers],
                timeout=CLOSE_TIMEOUT,
            )
            for future in pending:
                future.cancel()
            if pending:
                self._logger.warning("workers did not exit in time", count=len(pending))
        self._logger.info("workers closed", count=len(workers))
