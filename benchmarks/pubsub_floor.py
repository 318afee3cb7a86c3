"""The Pub/Sub emulator's own limits, on the load test's emulator: pushes to an endpoint
that does nothing, in a burst and at the paced rate (the reference rows of
`make bench-load`).

The emulator pushes a subscription's messages from two loops, one message at a time
each, and a loop that finds nothing to push sleeps 100 ms before it looks again
(``PushLoop`` in its jar: two loops a subscription, ``checkIntervalMillis`` 100). So the
burst row bounds what the stack's end-to-end rate can be, and the paced row is the
publish-to-push latency under any job's submit-to-done."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from typing import Any

from devtools.postgres import free_port
from devtools.stack import Stack


class DoNothingEndpoint:
    """An HTTP/1.1 endpoint in a thread that answers every push 204 at once and notes
    when each message (by its ``i`` attribute) arrived (``time.monotonic``)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[str, float] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DoNothingEndpoint:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_exc: Any) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._answer, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()

    async def _close(self) -> None:
        """Stop listening and end the emulator's open connections."""
        self._server.close()
        answering = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in answering:
            task.cancel()
        await asyncio.gather(*answering, return_exceptions=True)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = json.loads(await reader.readexactly(length))
                self.arrived[body["message"]["attributes"]["i"]] = time.monotonic()
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # the emulator hung up, or the endpoint is closing


def emulator_floor(
    stack: Stack, burst: int, paced_rate: float, paced: int
) -> tuple[float, list[float]]:
    """The emulator's pushes a second for ``burst`` messages published at once, and its
    publish-to-push latencies (ms) for ``paced`` messages at ``paced_rate`` a second."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    name = f"load-floor-{uuid.uuid4().hex[:8]}"
    with stack.env_applied(), DoNothingEndpoint() as endpoint:
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic = publisher.topic_path(stack.emulators.project, name)
        subscription = subscriber.subscription_path(stack.emulators.project, name)
        publisher.create_topic(name=topic)
        subscriber.create_subscription(
            name=subscription,
            topic=topic,
            push_config={"push_endpoint": f"http://127.0.0.1:{endpoint.port}/push"},
        )
        try:
            for future in [publisher.publish(topic, b"{}", i=f"b{i}") for i in range(burst)]:
                future.result()
            _wait_for(endpoint, burst)
            times = sorted(endpoint.arrived.values())
            rate = (burst - 1) / (times[-1] - times[0])
            sent: dict[str, float] = {}
            start = time.monotonic()
            for i in range(paced):
                time.sleep(max(0.0, start + i / paced_rate - time.monotonic()))
                sent[f"p{i}"] = time.monotonic()
                publisher.publish(topic, b"{}", i=f"p{i}").result()
            _wait_for(endpoint, burst + paced)
            latencies = [(endpoint.arrived[k] - at) * 1000 for k, at in sent.items()]
        finally:
            subscriber.delete_subscription(subscription=subscription)
            publisher.delete_topic(topic=topic)
            subscriber.close()
    return rate, latencies


def _wait_for(endpoint: DoNothingEndpoint, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(endpoint.arrived) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the emulator pushed {len(endpoint.arrived)} of {count}")
        time.sleep(0.05)
