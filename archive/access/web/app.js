// spanvault archive: the only script. Timeline entries seek the player.
document.addEventListener("click", function (e) {
  var t = e.target.closest("[data-at]");
  if (!t) return;
  var a = document.getElementById("player");
  if (!a) return;
  a.currentTime = parseFloat(t.getAttribute("data-at"));
  a.play();
});

// The reader's time zone, for the server to show times in it and read
// dates of a search in it (the "tz" cookie, checked there).
(function () {
  try {
    var z = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!z) return;
    var v = encodeURIComponent(z);
    if (document.cookie.split("; ").indexOf("tz=" + v) < 0) {
      document.cookie = "tz=" + v + "; path=/; max-age=31536000; SameSite=Strict; Secure";
    }
  } catch (e) {}
})();

// A player that cannot play says why (a suspension, an erasure, a
// session that ended) instead of showing a greyed 0:00: the audio
// address is asked once more for the reason, as JSON.
document.addEventListener("error", function (e) {
  var a = e.target;
  if (!a || a.id !== "player") return;
  var box = document.getElementById("playerror");
  if (!box) return;
  fetch(a.currentSrc || a.src, { headers: { Accept: "application/json", Range: "bytes=0-0" }, credentials: "same-origin" })
    .then(function (r) { return r.ok ? null : r.json().catch(function () { return { error: r.status + " " + r.statusText }; }); })
    .then(function (j) {
      if (!j) return;
      box.textContent = (box.getAttribute("data-prefix") || "") + " " + (j.error || "");
      box.hidden = false;
    }).catch(function () {});
}, true);
