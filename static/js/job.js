// Polls the job's status and reloads the page once the job reaches a final state.
(function () {
  "use strict";
  var badge = document.getElementById("job-status");
  if (!badge || badge.dataset.final === "true") return;
  var stage = document.getElementById("job-stage");
  var progress = document.getElementById("job-progress");
  var error = document.getElementById("job-error");
  var timeLeft = document.getElementById("job-time-left");
  var delay = 1000;

  function poll() {
    fetch(badge.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (job) {
        badge.textContent = job.status_display;
        badge.className = "status status-" + job.status;
        stage.textContent = job.stage_display;
        progress.value = job.progress;
        timeLeft.textContent = job.time_left_display || "";
        if (job.error_message) { error.textContent = job.error_message; error.hidden = false; }
        if (job.is_final) { window.location.reload(); return; }
        delay = 1000;
        setTimeout(poll, delay);
      })
      .catch(function () { delay = Math.min(delay * 2, 15000); setTimeout(poll, delay); });
  }
  setTimeout(poll, delay);
})();
