// Follows the burn-in exports still rendering on the job page: their progress bars move,
// and the page reloads (showing the download or the reason) once one is finished.
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(
    document.querySelectorAll(".burn-in-export[data-final='false']"));
  if (!rows.length) return;
  var delay = 1000;

  function pollOne(row) {
    return fetch(row.dataset.exportStatusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (data) {
        var bar = row.querySelector("progress");
        var badge = row.querySelector(".burn-in-status");
        if (bar) { bar.value = data.progress; bar.textContent = data.progress + "%"; }
        if (badge) { badge.textContent = data.status_display + (data.is_final ? "" : " · " + data.progress + "%"); }
        return data.is_final;
      });
  }

  function poll() {
    Promise.all(rows.map(pollOne))
      .then(function (finals) {
        if (finals.some(Boolean)) { window.location.reload(); return; }
        delay = 1000;
        setTimeout(poll, delay);
      })
      .catch(function () { delay = Math.min(delay * 2, 15000); setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
})();
