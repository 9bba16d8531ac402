// spanvault archive: the only script. Timeline entries seek the player.
document.addEventListener("click", function (e) {
  var t = e.target.closest("[data-at]");
  if (!t) return;
  var a = document.getElementById("player");
  if (!a) return;
  a.currentTime = parseFloat(t.getAttribute("data-at"));
  a.play();
});
