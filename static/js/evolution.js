// Evolution pages: draw the server-built Plotly figures (again when a live fragment replaces
// them), open a strategy when its Pareto point is clicked, and refresh a run's panel (or the
// runs list) once a live "evolution.generation" event says the run finished.
(function () {
  var drawn = new WeakSet();

  function within(root, selector) {
    var scope = root && root.querySelectorAll ? root : document;
    var found = Array.prototype.slice.call(scope.querySelectorAll(selector));
    if (scope.matches && scope.matches(selector)) { found.push(scope); }
    return found;
  }

  function drawFigures(root) {
    if (typeof Plotly === "undefined") { return; }
    within(root, "[data-figure]").forEach(function (el) {
      if (drawn.has(el)) { return; }
      var source = document.getElementById(el.dataset.figure);
      if (!source) { return; }
      var figure = JSON.parse(source.textContent);
      drawn.add(el);
      Plotly.newPlot(el, figure.data, figure.layout, { responsive: true, displaylogo: false });
      el.on("plotly_click", function (event) {
        var url = event.points && event.points[0] && event.points[0].customdata;
        if (typeof url === "string" && url.charAt(0) === "/") { window.location.assign(url); }
      });
    });
  }

  function refreshFinished(root) {
    within(root, "[data-refresh-on-load]").forEach(function (mark) {
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
