"""Reading the chart JSON the instrument page and chart endpoint send (Plotly figure + meta)."""

from __future__ import annotations

import base64
import json
import re

import numpy as np


def decoded(value) -> np.ndarray:
    """A Plotly array: either a plain list or a base64 typed array {"dtype", "bdata"}."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray([np.nan if v is None else v for v in value], dtype=np.float64)


def trace(payload: dict, meta: str) -> dict:
    found = [t for t in payload["figure"]["data"] if t.get("meta") == meta]
    assert len(found) == 1, f"expected one trace with meta {meta!r}, got {len(found)}"
    return found[0]


def embedded_chart(html: str) -> dict:
    """The JSON inside <script id="chart-data"> of a rendered page or fragment."""
    match = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S)
    assert match, "no chart data in the page"
    return json.loads(match.group(1))
