"""A websocket test client for the real ASGI application, over asgiref's ApplicationCommunicator.

It does what `channels.testing.WebsocketCommunicator` does (same method names).
We cannot import that one: `channels.testing` also imports its live-server test
case, which needs the `daphne` package, not a dependency of this project.
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from asgiref.testing import ApplicationCommunicator


class WebsocketClient(ApplicationCommunicator):
    def __init__(self, application, path: str, headers: list[tuple[bytes, bytes]] | None = None):
        parsed = urlparse(path)
        scope = {
            "type": "websocket",
            "path": unquote(parsed.path),
            "query_string": parsed.query.encode(),
            "headers": headers or [],
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 1) -> tuple[bool, int | str | None]:
        """(True, subprotocol) when accepted, (False, close code) when refused."""
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept", response
        return True, response.get("subprotocol")

    async def receive_from(self, timeout: float = 1) -> str | bytes:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return response["text"] if response.get("text") is not None else response["bytes"]

    async def disconnect(self, code: int = 1000, timeout: float = 1) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)
