// The job page's player and transcript: the line being spoken is highlighted, a click
// on a line (or its time, from the keyboard) plays from there; "Copy" copies a caption.
(function () {
  "use strict";
  var player = document.getElementById("player");
  var lines = Array.prototype.slice.call(document.querySelectorAll("#transcript .segments li"));
  var current = null;

  function seek(line) {
    player.currentTime = parseFloat(line.dataset.start);
    var playing = player.play();
    if (playing && playing.catch) playing.catch(function () {});
  }

  function highlight() {
    var t = player.currentTime;
    var found = null;
    for (var i = 0; i < lines.length; i++) {
      if (t >= parseFloat(lines[i].dataset.start) && t < parseFloat(lines[i].dataset.end)) {
        found = lines[i];
        break;
      }
    }
    if (found === current) return;
    if (current) { current.classList.remove("current"); current.removeAttribute("aria-current"); }
    current = found;
    if (current) { current.classList.add("current"); current.setAttribute("aria-current", "true"); }
  }

  if (player && lines.length) {
    lines.forEach(function (line) {
      line.addEventListener("click", function () { seek(line); });
    });
    player.addEventListener("timeupdate", highlight);
    player.addEventListener("seeked", highlight);
  }

  function copied(button, text) {
    var label = button.textContent;
    button.textContent = text;
    setTimeout(function () { button.textContent = label; }, 1500);
  }

  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (button) {
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.copy).textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { copied(button, "Copied"); },
          function () { copied(button, "Select and copy"); });
      } else {
        // Without the Clipboard API (plain http on another host): select it for the user.
        var range = document.createRange();
        range.selectNodeContents(document.getElementById(button.dataset.copy));
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        copied(button, document.execCommand("copy") ? "Copied" : "Press Ctrl+C");
      }
    });
  });
})();
