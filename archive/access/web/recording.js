// spanvault archive: the recording page's picture seeks the player.
// A click on the picture (or on an event marker) or the keys (arrows:
// 5 s, Page Up/Down: 30 s, Home/End, Enter or Space: play/pause) set the
// player's position; nothing is fetched until the player plays.
(function () {
  "use strict";
  var pic = document.getElementById("picture");
  if (!pic) return;
  var a = document.getElementById("player");
  var cursor = document.getElementById("cursor");
  var out = document.getElementById("position");
  var span = parseFloat(pic.getAttribute("data-span")) || 1;
  var pos = 0;
  function clock(t) {
    var s = Math.floor(t), m = Math.floor(s / 60) % 60, h = Math.floor(s / 3600);
    var ss = (s % 60 < 10 ? "0" : "") + (s % 60);
    return h > 0 ? h + ":" + (m < 10 ? "0" : "") + m + ":" + ss : m + ":" + ss;
  }
  function show(t) {
    pos = t;
    var x = (Math.min(t / span, 1) * 1000).toFixed(1);
    cursor.setAttribute("x1", x);
    cursor.setAttribute("x2", x);
    pic.setAttribute("aria-valuenow", t.toFixed(1));
    pic.setAttribute("aria-valuetext", clock(t));
    if (out) out.textContent = clock(t);
  }
  function seek(t) {
    t = Math.max(0, Math.min(t, span));
    if (a) a.currentTime = t;
    show(t);
  }
  pic.addEventListener("click", function (e) {
    var m = e.target.closest("[data-t]");
    if (m) {
      seek(parseFloat(m.getAttribute("data-t")));
    } else {
      var r = pic.getBoundingClientRect();
      seek((e.clientX - r.left) / r.width * span);
    }
    pic.focus();
  });
  pic.addEventListener("keydown", function (e) {
    var step = { ArrowRight: 5, ArrowUp: 5, ArrowLeft: -5, ArrowDown: -5, PageUp: 30, PageDown: -30 }[e.key];
    var now = a ? a.currentTime : pos;
    if (step !== undefined) {
      seek(now + step);
    } else if (e.key === "Home") {
      seek(0);
    } else if (e.key === "End") {
      seek(span);
    } else if ((e.key === "Enter" || e.key === " ") && a) {
      if (a.paused) a.play(); else a.pause();
    } else {
      return;
    }
    e.preventDefault();
  });
  if (a) a.addEventListener("timeupdate", function () { show(a.currentTime); });
})();
