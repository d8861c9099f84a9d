// Dashboard glue: shows the websocket state in the top bar.
(function () {
  function setStatus(cls) {
    var el = document.getElementById("ws-status");
    if (el) { el.classList.remove("online", "offline"); if (cls) el.classList.add(cls); }
  }
  document.addEventListener("htmx:wsOpen", function () { setStatus("online"); });
  document.addEventListener("htmx:wsClose", function () { setStatus("offline"); });
  document.addEventListener("htmx:wsError", function () { setStatus("offline"); });
})();
