// Instrument page chart.
// - Draws the Plotly figure the server embedded in <script id="chart-data"> (again after
//   every htmx swap of #chart-panel).
// - Zoom / pan (plotly_relayout): re-fetches the visible range from the chart JSON endpoint,
//   so a downsampled overview turns into full-resolution candles as you zoom in; a double
//   click (autorange) goes back to the form's range.
// - Live: JSON "candle.stored" messages on the page's websocket extend the chart (or
//   re-fetch it when it is downsampled or has indicators, whose values change too).
(function () {
  "use strict";

  var EARLIEST_MS = 0, LATEST_MS = 4102444800000;
  var state = { meta: null, zoom: null, request: null, refetchTimer: null, drawing: false };
  var plotConfig = { responsive: true, displaylogo: false, scrollZoom: true };

  function chartEl() { return document.getElementById("price-chart"); }
  function chartForm() { return document.getElementById("chart-form"); }

  function setNote(text, isError) {
    var note = document.getElementById("chart-note");
    if (!note) return;
    note.textContent = text || "";
    note.classList.toggle("error", !!isError);
  }

  function draw(payload) {
    var el = chartEl();
    if (!el || !window.Plotly) return;
    state.meta = payload.meta;
    state.drawing = true;
    return window.Plotly.react(el, payload.figure.data, payload.figure.layout, plotConfig).then(function () {
      state.drawing = false;
      if (!el.dataset.listening) {
        el.on("plotly_relayout", onRelayout);
        el.dataset.listening = "1";
      }
      setNote(payload.meta.note);
    });
  }

  function initFromPage() {
    var source = document.getElementById("chart-data");
    var el = chartEl();
    if (!source || !el || el.dataset.drawn) return;
    el.dataset.drawn = "1";
    state.zoom = null;
    draw(JSON.parse(source.textContent));
  }

  // Plotly reports date-axis ranges as "2024-01-05 12:34:56.789" (UTC, no zone) or numbers.
  function toMs(value) {
    if (typeof value === "number") return Math.round(value);
    var text = String(value).trim().replace(" ", "T");
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) text += "T00:00:00";
    if (!/(Z|[+-]\d{2}:?\d{2})$/.test(text)) text += "Z";
    return Date.parse(text);
  }

  function clampMs(ms) { return Math.min(LATEST_MS, Math.max(EARLIEST_MS, Math.round(ms))); }

  // The visible x range from a relayout event: [startMs, endMs], "auto", or null (no x change).
  function visibleRange(event) {
    for (var key in event) {
      var first = key.match(/^(xaxis\d*)\.range\[0\]$/);
      if (first) return [event[key], event[first[1] + ".range[1]"]];
      if (/^xaxis\d*\.range$/.test(key)) return event[key];
      if (/^xaxis\d*\.autorange$/.test(key)) return "auto";
    }
    return null;
  }

  function onRelayout(event) {
    if (state.drawing) return;
    var range = visibleRange(event);
    if (range === null) return;
    if (range === "auto") {
      state.zoom = null;
    } else {
      var start = toMs(range[0]), end = toMs(range[1]);
      if (isNaN(start) || isNaN(end) || end <= start) return;
      state.zoom = [clampMs(start), clampMs(end) + 1];
    }
    scheduleRefetch(250);
  }

  function chartUrl() {
    var form = chartForm();
    var params = new URLSearchParams(new FormData(form));
    params.set("configured", "1");
    if (state.zoom) {
      params.set("start", String(state.zoom[0]));
      params.set("end", String(state.zoom[1]));
    }
    return form.dataset.chartUrl + "?" + params.toString();
  }

  function scheduleRefetch(delay) {
    clearTimeout(state.refetchTimer);
    state.refetchTimer = setTimeout(refetch, delay);
  }

  function refetch() {
    if (!chartForm() || !chartEl()) return;
    if (state.request) state.request.abort();
    var request = new AbortController();
    state.request = request;
    setNote("Loading…");
    fetch(chartUrl(), { headers: { Accept: "application/json" }, credentials: "same-origin", signal: request.signal })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (payload) {
        state.request = null;
        return draw(payload);
      })
      .catch(function (error) {
        if (error.name !== "AbortError") setNote("Could not load the chart: " + error.message, true);
      });
  }

  function traceIndex(el, meta) {
    for (var i = 0; i < el.data.length; i++) if (el.data[i].meta === meta) return i;
    return -1;
  }

  // Is the newest stored bar in view (so a new candle belongs on screen)?
  function followsLatest() {
    var meta = state.meta;
    if (!meta || !meta.follows_latest) return false;
    return !state.zoom || meta.last_time === null || state.zoom[1] > meta.last_time;
  }

  function extendWithCandle(el, candle) {
    var candles = traceIndex(el, "candles"), volume = traceIndex(el, "volume");
    if (candles < 0 || volume < 0) return false;
    window.Plotly.extendTraces(el, {
      x: [[candle.open_time]], open: [[candle.open]], high: [[candle.high]],
      low: [[candle.low]], close: [[candle.close]],
    }, [candles]);
    window.Plotly.extendTraces(el, {
      x: [[candle.open_time]], y: [[candle.volume]], "marker.color": [[candle.close >= candle.open ? 1 : 0]],
    }, [volume]);
    state.meta.last_time = candle.open_time;
    state.meta.points += 1;
    return true;
  }

  function onCandle(candle) {
    var meta = state.meta, el = chartEl();
    if (!meta || !el || !el.data) return;
    if (candle.instrument_id !== meta.instrument_id || candle.timeframe !== meta.timeframe) return;
    if (!followsLatest()) return;
    var isNewBar = meta.last_time === null || candle.open_time > meta.last_time;
    var plain = !meta.downsampled && meta.indicators.length === 0;
    if (isNewBar && plain && extendWithCandle(el, candle)) return;
    scheduleRefetch(1000);
  }

  // JSON messages are for scripts: handle them and keep htmx from trying to swap them.
  document.addEventListener("htmx:wsBeforeMessage", function (event) {
    var text = event.detail.message;
    if (typeof text !== "string" || text.charAt(0) !== "{") return;
    event.preventDefault();
    var message;
    try { message = JSON.parse(text); } catch (error) { return; }
    if (message.event === "candle.stored") onCandle(message.payload);
  });

  document.addEventListener("htmx:afterSettle", initFromPage);
  // Back/forward: htmx restores a snapshot holding Plotly's drawn SVG but no live plot; redraw.
  document.addEventListener("htmx:historyRestore", function () {
    var el = chartEl();
    if (!el) return;
    el.innerHTML = "";
    delete el.dataset.drawn;
    delete el.dataset.listening;
    initFromPage();
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", initFromPage);
  } else {
    initFromPage();
  }
})();
