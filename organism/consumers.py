"""The dashboard websocket: authenticated, joins named groups, forwards events.

Clients connect to /ws/live/?groups=markets,instrument.3 . Only group names the
server knows how to build are accepted. Each event is sent as JSON and, where a
page registered a fragment renderer for that event, also as HTML for htmx's ws
extension to swap out-of-band.

Connections are counted for the metrics endpoint (`websocket_metrics`); a page
that reopens its socket says so with `reconnect=1`.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from organism import live_fragments
from organism.websocket_metrics import websocket_count_async

_GROUP_RE = re.compile(r"^(markets|(instrument|backtest|evolution|trading)\.\d{1,12})$")
MAX_GROUPS = 20


class LiveConsumer(AsyncWebsocketConsumer):
    groups_joined: list[str]
    accepted = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await websocket_count_async("refused")
            await self.close(code=4401)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        requested = [g for raw in query.get("groups", []) for g in raw.split(",") if g]
        self.groups_joined = [g for g in requested if _GROUP_RE.match(g)][:MAX_GROUPS]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.accepted = True
        reconnect = query.get("reconnect", [""])[-1] == "1"
        await websocket_count_async("connects", *(["reconnects"] if reconnect else []))

    async def disconnect(self, code: int) -> None:
        if self.accepted:
            await websocket_count_async("disconnects")
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # The socket is server -> client only; htmx's ws extension may send form
        # data on ws-send elements, which we deliberately ignore.
        return

    async def dispatch(self, message: dict) -> None:
        # Channels runs close_old_connections() before every handler, through the one
        # shared sync thread: a thread hop per event per socket that queues every socket
        # of the process behind the others. Forwarding an event uses no database
        # connection of that thread (renderers run in their own), so events skip it.
        if message["type"] == "organism.event":
            await self.organism_event(message)
        else:
            await super().dispatch(message)

    async def organism_event(self, message: dict) -> None:
        html = await live_fragments.render(message["event"], message["payload"])
        if html:
            await self.send(text_data=html)
        await self.send(
            text_data=json.dumps(
                {"event": message["event"], "payload": message["payload"], "sent_at": message.get("sent_at")}
            )
        )
