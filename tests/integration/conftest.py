"""Fixtures that start real worker processes."""

from collections.abc import AsyncIterator

import pytest

from sfu import Router, Worker, create_worker
from tests.media_parameters import MEDIA_CODECS

LISTEN_UDP = [{"protocol": "udp", "ip": "127.0.0.1"}]


@pytest.fixture
async def worker() -> AsyncIterator[Worker]:
    worker = await create_worker()
    yield worker
    worker.close()
    await worker.wait_closed()


@pytest.fixture
async def router(worker: Worker) -> Router:
    return await worker.create_router(media_codecs=MEDIA_CODECS)
