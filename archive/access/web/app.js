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
