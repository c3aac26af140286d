"""PipeTransport: carries producers between routers on different workers."""

from typing import TYPE_CHECKING, Any

from sfu import ortc
from sfu.plain_transport import PlainTransport

if TYPE_CHECKING:
    from sfu.consumer import Consumer


class PipeTransport(PlainTransport):
    """A plain transport whose consumers forward every stream of a producer verbatim."""

    def _apply_cname(self, parameters: dict[str, Any]) -> None:
        # Piped producers keep the CNAME of the original producer (lip sync per sender).
        if not parameters.get("rtcp", {}).get("cname"):
            super()._apply_cname(parameters)

    async def consume(  # type: ignore[override]
        self, *, producer_id: str, app_data: dict[str, Any] | None = None
    ) -> "Consumer":
        """Create a pipe consumer: all of the producer's encodings, no capabilities needed."""
        self._check_open("consume")
        producer = self._links.get_producer(producer_id)
        enable_rtx = bool(self._state.get("enableRtx", False))
        parameters = ortc.get_pipe_consumer_rtp_parameters(
            producer.consumable_rtp_parameters, enable_rtx=enable_rtx
        )
        return await self._create_consumer(
            producer,
            parameters,
            consumer_type="pipe",
            paused=False,
            preferred_layers=None,
            ignore_dtx=False,
            app_data=app_data,
        )
