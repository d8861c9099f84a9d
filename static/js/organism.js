// Dashboard glue: shows the websocket state in the top bar, and marks reconnections.
(function () {
  function setStatus(cls) {
    var el = document.getElementById("ws-status");
    if (el) { el.classList.remove("online", "offline"); if (cls) el.classList.add(cls); }
  }
  document.addEventListener("htmx:wsOpen", function () { setStatus("online"); });
  document.addEventListener("htmx:wsClose", function () { setStatus("offline"); });
  document.addEventListener("htmx:wsError", function () { setStatus("offline"); });

  // htmx's ws extension reopens a lost socket by calling htmx.createWebSocket(url)
  // again with the same url; the server counts those as reconnects (metrics).
  if (window.htmx && htmx.createWebSocket) {
    var createWebSocket = htmx.createWebSocket;
    var opened = {};
    htmx.createWebSocket = function (url) {
      var again = opened[url];
      opened[url] = true;
      return createWebSocket(again ? url + (url.indexOf("?") < 0 ? "?" : "&") + "reconnect=1" : url);
    };
  }
})();
