// Backtest pages: draw the server-built Plotly figures, and refresh a session's
// panel (or the list) once a live "backtest.progress" event says it finished.
(function () {
  var drawn = new WeakSet();

  function drawFigures(root) {
    if (typeof Plotly === "undefined") { return; }
    var scope = root && root.querySelectorAll ? root : document;
    var targets = Array.prototype.slice.call(scope.querySelectorAll("[data-figure]"));
    if (scope.matches && scope.matches("[data-figure]")) { targets.push(scope); }
    targets.forEach(function (el) {
      if (drawn.has(el)) { return; }
      var source = document.getElementById(el.dataset.figure);
      if (!source) { return; }
      var figure = JSON.parse(source.textContent);
      drawn.add(el);
      Plotly.newPlot(el, figure.data, figure.layout, { responsive: true, displaylogo: false });
    });
  }

  // A progress bar swapped in out-of-band with data-refresh-on-load marks a session that
  // just finished: reload the nearest container that knows its own URL.
  function refreshFinished(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var marks = Array.prototype.slice.call(scope.querySelectorAll("[data-refresh-on-load]"));
    if (scope.matches && scope.matches("[data-refresh-on-load]")) { marks.push(scope); }
    marks.forEach(function (mark) {
      mark.removeAttribute("data-refresh-on-load");
      var box = mark.closest("[data-refresh-url]");
      if (box && typeof htmx !== "undefined") {
        htmx.ajax("GET", box.dataset.refreshUrl, { target: box, swap: "outerHTML" });
      }
    });
  }

  function onLoad(root) {
    drawFigures(root);
    refreshFinished(root);
  }

  if (typeof htmx !== "undefined") {
    htmx.onLoad(onLoad);
  } else {
    document.addEventListener("DOMContentLoaded", function () { onLoad(document); });
  }
})();
