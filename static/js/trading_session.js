// Trading session page: draws the price and equity figures the server builds
// (GET charts.json) and redraws them, at most every 2 s, when the page's
// websocket delivers a "trading.update" for this session. The HTML panels
// (status, positions, orders, votes, alerts, trades) are swapped out of band
// by htmx's ws extension; this script only handles the Plotly charts.
(function () {
  "use strict";

  var MIN_INTERVAL_MS = 2000;
  var config = { responsive: true, displaylogo: false };
  var state = { pending: false, last: 0, timer: null };

  function page() { return document.getElementById("session-page"); }

  function chartsUrl() {
    var el = page(), url = el.dataset.chartsUrl, picker = document.getElementById("chart-symbol");
    return picker ? url + "?symbol=" + encodeURIComponent(picker.value) : url;
  }

  function draw() {
    if (!window.Plotly || !page()) return;
    state.pending = false;
    state.last = Date.now();
    fetch(chartsUrl(), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (charts) {
        if (!charts) return;
        window.Plotly.react("price-chart", charts.price.data, charts.price.layout, config);
        window.Plotly.react("equity-chart", charts.equity.data, charts.equity.layout, config);
      });
  }

  function schedule() {
    if (state.pending) return;
    state.pending = true;
    var wait = Math.max(0, MIN_INTERVAL_MS - (Date.now() - state.last));
    state.timer = setTimeout(draw, wait);
  }

  function onMessage(event) {
    var text = event.detail && event.detail.message;
    if (!text || text.charAt(0) !== "{") return;
    try {
      var message = JSON.parse(text);
      var id = Number(page().dataset.session);
      if (message.event === "trading.update" && message.payload.session_id === id) schedule();
    } catch (e) { /* not JSON: an HTML fragment for htmx */ }
  }

  function start() {
    if (!page()) return;
    var picker = document.getElementById("chart-symbol");
    if (picker) picker.addEventListener("change", draw);
    document.body.addEventListener("htmx:wsBeforeMessage", onMessage);
    if (window.Plotly) draw(); else window.addEventListener("load", draw);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
