// Live countdowns and a self-refreshing board. The server embeds its "now"
// (data-server-now); the difference to the browser's clock is the skew that
// every countdown corrects for, so a wrong PC clock shows the right time left.
(function () {
  "use strict";
  var skew = 0;

  function readSkew(root) {
    var el = root.hasAttribute && root.hasAttribute("data-server-now") ? root : root.querySelector("[data-server-now]");
    var at = el ? Date.parse(el.getAttribute("data-server-now")) : NaN;
    if (!isNaN(at)) { skew = at - Date.now(); }
  }

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  // The same arithmetic as monitor/pages/render.py:countdown.
  function show(el) {
    var seconds = Math.trunc((Date.parse(el.getAttribute("data-due")) - (Date.now() + skew)) / 1000);
    var overdue = seconds < 0;
    var s = Math.abs(seconds);
    var text = s >= 72 * 3600
      ? (overdue ? "+" : "") + Math.floor(s / 86400) + el.getAttribute("data-day") + " " +
        pad(Math.floor(s % 86400 / 3600)) + ":" + pad(Math.floor(s % 3600 / 60)) + ":" + pad(s % 60)
      : (overdue ? "+" : "") + Math.floor(s / 3600) + ":" + pad(Math.floor(s % 3600 / 60)) + ":" + pad(s % 60);
    var state = overdue ? "overdue" : (s < 3600 ? "soon" : "ok");
    el.querySelector(".cd-time").textContent = text;
    el.querySelector(".cd-label").textContent = el.getAttribute(overdue ? "data-overdue" : "data-left");
    el.classList.remove("ok", "soon", "overdue");
    el.classList.add(state);
  }

  function tick() {
    var clocks = document.querySelectorAll(".countdown[data-due]");
    for (var i = 0; i < clocks.length; i++) { show(clocks[i]); }
  }

  function refresh(board) {
    var url = board.getAttribute("data-refresh-url");
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        // Signed out (the session ended): show the sign-in page.
        if (response.redirected || response.status === 401) { window.location.reload(); return null; }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null) { return; }
        board.innerHTML = html;
        readSkew(board);
        tick();
      })
      .catch(function () { /* offline for a moment: the next round tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    readSkew(document.body);
    tick();
    window.setInterval(tick, 1000);
    var board = document.getElementById("board");
    if (board) {
      var every = parseInt(board.getAttribute("data-refresh-seconds"), 10) || 20;
      window.setInterval(function () { refresh(board); }, every * 1000);
    }
    var invalid = document.querySelector("[aria-invalid=true]");
    if (invalid) { invalid.focus(); }
  });
}());
