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
    var board = document.getElementById("board");
    if (board) { watchClocks(board); }
  }

  // The board shouts (issue 19): a sound and a desktop notification, once the
  // person allowed them, when a step goes out or a deadline turns red; the tab
  // title carries the nearest countdown; a banner says when the server cannot
  // be reached. A wall board (data-wall) never reloads into the sign-in page.
  var shout = { on: false, audio: null, seen: {}, red: {} };

  function words(name, title) {
    var el = document.getElementById("shout-words");
    return el ? el.getAttribute("data-" + name).replace("{title}", title) : title;
  }

  function beep() {
    if (!shout.audio) { return; }
    var ctx = shout.audio;
    [0, 0.35, 0.7].forEach(function (at) {
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.25, ctx.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + at + 0.3);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(ctx.currentTime + at);
      osc.stop(ctx.currentTime + at + 0.3);
    });
  }

  function alarm(text) {
    if (!shout.on) { return; }
    beep();
    if (window.Notification && Notification.permission === "granted") {
      try { new Notification(text, { tag: text, requireInteraction: true }); } catch (e) { /* not allowed here */ }
    }
  }

  function enableShout(button) {
    var state = document.getElementById("alerts-state");
    function say(key) { if (state) { state.textContent = button.getAttribute("data-" + key); } }
    button.addEventListener("click", function () {
      shout.on = !shout.on;
      try { window.localStorage.setItem("sunclock-shout", shout.on ? "on" : "off"); } catch (e) { /* private mode */ }
      if (!shout.on) { say("off"); return; }
      var Context = window.AudioContext || window.webkitAudioContext;
      if (Context && !shout.audio) { shout.audio = new Context(); }
      if (shout.audio && shout.audio.resume) { shout.audio.resume(); }
      beep();
      if (window.Notification && Notification.permission === "default") {
        Notification.requestPermission().then(function (p) { say(p === "granted" ? "on" : "denied"); });
      } else {
        say(window.Notification && Notification.permission === "granted" ? "on" : "denied");
      }
    });
    var stored = null;
    try { stored = window.localStorage.getItem("sunclock-shout"); } catch (e) { /* private mode */ }
    if (stored === "on") {
      // Sound needs one click after a reload (the browser's rule); notifications do not.
      shout.on = true;
      var Context = window.AudioContext || window.webkitAudioContext;
      if (Context) { shout.audio = new Context(); }
      say("on");
    }
  }

  // New messages since the last look: a card whose latest message id grew.
  function watchSteps(board, first) {
    var cards = board.querySelectorAll(".card[data-incident]");
    for (var i = 0; i < cards.length; i++) {
      var id = cards[i].getAttribute("data-incident");
      var latest = parseInt(cards[i].getAttribute("data-latest"), 10) || 0;
      if (!first && latest > (shout.seen[id] || 0)) { alarm(words("step", cards[i].getAttribute("data-title"))); }
      shout.seen[id] = latest;
    }
  }

  // Deadlines that turned red since the last second, and the nearest one for the tab title.
  function watchClocks(board) {
    var clocks = board.querySelectorAll(".countdown[data-due]");
    var nearest = null;
    for (var i = 0; i < clocks.length; i++) {
      var el = clocks[i];
      var card = el.closest(".card");
      var row = el.closest("tr");
      var key = (card ? card.getAttribute("data-incident") : "") + "/" + el.getAttribute("data-due");
      var red = el.classList.contains("overdue");
      if (red && shout.red[key] === false) {
        var what = (card ? card.getAttribute("data-title") : "") + (row && row.querySelector("th") ? " · " + row.querySelector("th").textContent : "");
        alarm(words("red", what));
      }
      shout.red[key] = red;
      if (!nearest || Date.parse(el.getAttribute("data-due")) < Date.parse(nearest.getAttribute("data-due"))) { nearest = el; }
    }
    var base = words("title", "");
    document.title = nearest
      ? nearest.querySelector(".cd-label").textContent + " " + nearest.querySelector(".cd-time").textContent + " · " + base
      : base;
  }

  function offline(board, reason) {
    var banner = document.getElementById("offline");
    if (!banner) { return; }
    if (reason === null) { banner.hidden = true; return; }
    var at = board.querySelector("#updated-at");
    banner.textContent = reason === "revoked" ? banner.getAttribute("data-revoked")
      : banner.getAttribute("data-text").replace("{at}", at ? at.textContent : "");
    banner.hidden = false;
  }

  function refresh(board) {
    var url = board.getAttribute("data-refresh-url");
    var wall = board.hasAttribute("data-wall");
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (wall && (response.status === 404 || response.status === 410)) { offline(board, "revoked"); return null; }
        // Signed out (the session ended): show the sign-in page.
        if (!wall && (response.redirected || response.status === 401)) { window.location.reload(); return null; }
        if (!response.ok) { offline(board, "down"); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        board.innerHTML = html;
        offline(board, null);
        readSkew(board);
        tick();
        watchSteps(board, false);
      })
      .catch(function () { offline(board, "down"); });
  }

  // The register form: a time more than an hour ago is a late registration;
  // say so (and ask to confirm) before the form is sent. The server's local
  // "now" is in data-now-local, read in the same naive way as the field.
  function watchLate(field) {
    var loaded = Date.now();
    var check = document.getElementById("late-check");
    function judge() {
      var at = Date.parse(field.value);
      var now = Date.parse(field.getAttribute("data-now-local")) + (Date.now() - loaded);
      var late = !isNaN(at) && now - at > parseInt(field.getAttribute("data-late-seconds"), 10) * 1000;
      if (check) { check.hidden = !late && check.getAttribute("data-server-late") !== "1"; }
    }
    field.addEventListener("input", judge);
    field.addEventListener("change", judge);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var occurred = document.querySelector("input[data-late-seconds]");
    if (occurred) { watchLate(occurred); }
    readSkew(document.body);
    tick();
    window.setInterval(tick, 1000);
    var board = document.getElementById("board");
    var button = document.getElementById("alerts-on");
    if (button) { enableShout(button); }
    if (board) {
      watchSteps(board, true);
      var every = parseInt(board.getAttribute("data-refresh-seconds"), 10) || 20;
      window.setInterval(function () { refresh(board); }, every * 1000);
    }
    var invalid = document.querySelector("[aria-invalid=true]");
    if (invalid) { invalid.focus(); }
  });
}());
