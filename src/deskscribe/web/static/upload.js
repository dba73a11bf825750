// Upload progress: polls the state the server keeps until the upload ends.
(function () {
  "use strict";
  var root = document.querySelector("[data-upload]");
  if (!root) return;
  var bar = root.querySelector("progress");
  var status = root.querySelector("[data-upload-status]");
  function poll() {
    fetch(root.dataset.upload, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.total) { bar.max = s.total; bar.value = s.done; bar.textContent = s.done; }
        var text = s.status + (s.total ? ": " + s.done + " of " + s.total + " chunks" : "");
        if (s.message) text += " (" + s.message + ")";
        if (status.textContent.trim() !== text) status.textContent = text;
        root.dataset.state = s.status;
        if (s.status === "starting" || s.status === "sending") setTimeout(poll, 300);
      })
      .catch(function () { setTimeout(poll, 1000); });
  }
  poll();
})();
