// Drag-and-drop upload with a progress bar. Without JavaScript the form posts normally.
// Before sending, the file is checked against the plan (size, and video where the plan
// has none) so a customer is not refused only after the whole upload; the server checks
// the contents again either way.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) return;
  var input = document.getElementById("id_file");
  var zone = document.getElementById("dropzone");
  var nameLabel = document.getElementById("dz-file");
  var wrap = document.getElementById("progress-wrap");
  var bar = document.getElementById("upload-progress");
  var percent = document.getElementById("upload-percent");
  var errors = document.getElementById("form-errors");
  var button = document.getElementById("submit-button");

  var maxBytes = parseInt(form.dataset.maxBytes, 10);
  var videoAllowed = form.dataset.video === "true";
  // WebM and Ogg may hold sound alone: those the server decides from the contents.
  var MAYBE_AUDIO = ["video/webm", "video/ogg"];
  var VIDEO_EXT = /\.(mp4|m4v|mov|mkv|avi|wmv|mpe?g|3gp|flv)$/i;

  function planRefusal(file) {
    if (file.size > maxBytes) {
      return "This file is " + (file.size / 1048576).toFixed(1) + " MB; your " + form.dataset.plan +
        " plan takes files up to " + form.dataset.maxSize + ".";
    }
    var video = (file.type.indexOf("video/") === 0 && MAYBE_AUDIO.indexOf(file.type) < 0) ||
      (!file.type && VIDEO_EXT.test(file.name));
    if (video && !videoAllowed) return form.dataset.videoRefusal;
    return "";
  }

  function showName() {
    nameLabel.textContent = input.files.length ? input.files[0].name : "";
    var refusal = input.files.length ? planRefusal(input.files[0]) : "";
    showErrors(refusal ? [refusal] : []);
  }
  input.addEventListener("change", showName);
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      showName();
    }
  });

  function clearFieldErrors() {
    Array.prototype.forEach.call(form.querySelectorAll(".field-error.from-js"), function (p) {
      var control = document.getElementById(p.dataset.for);
      if (control) { control.removeAttribute("aria-invalid"); control.removeAttribute("aria-describedby"); }
      p.remove();
    });
  }

  function showFieldError(control, text) {
    var p = document.createElement("p");
    p.className = "field-error from-js";
    p.id = control.id + "-error";
    p.dataset.for = control.id;
    p.textContent = text;
    control.insertAdjacentElement("afterend", p);
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", p.id);
    var folded = control.closest("details");
    if (folded) folded.open = true;
  }

  function showErrors(list) {
    errors.textContent = "";
    list.forEach(function (text) {
      var p = document.createElement("p");
      p.textContent = text;
      errors.appendChild(p);
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (!input.files.length) { showErrors(["Choose a file to upload."]); return; }
    var refusal = planRefusal(input.files[0]);
    if (refusal) { showErrors([refusal]); return; }
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    wrap.hidden = false;
    button.disabled = true;
    xhr.upload.addEventListener("progress", function (ev) {
      if (!ev.lengthComputable) return;
      var pct = Math.round((ev.loaded / ev.total) * 100);
      bar.value = pct;
      percent.textContent = pct + "%";
    });
    xhr.addEventListener("load", function () {
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (err) { data = {}; }
      if (xhr.status === 201 && data.redirect) {
        bar.value = 100;
        percent.textContent = "100%";
        window.location.assign(data.redirect);
        return;
      }
      button.disabled = false;
      wrap.hidden = true;
      var messages = [];
      clearFieldErrors();
      Object.keys(data.errors || {}).forEach(function (field) {
        var control = document.getElementById("id_" + field);
        data.errors[field].forEach(function (m) {
          // An option's error goes beside it; the file's and the form's go on top.
          if (field !== "__all__" && field !== "file" && control) showFieldError(control, m);
          else messages.push(m);
        });
      });
      if (!messages.length && document.querySelector(".field-error.from-js")) {
        messages.push("Some options need a change: see the marked fields.");
      }
      if (!messages.length) messages.push("The upload did not go through. Please try again in a moment.");
      showErrors(messages);
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      wrap.hidden = true;
      showErrors(["The connection was lost during the upload. Please try again."]);
    });
    xhr.send(new FormData(form));
  });
})();
