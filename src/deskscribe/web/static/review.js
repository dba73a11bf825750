// The review page's changes: the forms follow the viewer's current step, and a box dragged
// on the screenshot fills the black-out form's corners (which can also be typed).
(function () {
  "use strict";
  var viewer = document.querySelector("[data-viewer]");
  var frame = document.querySelector("[data-frame]");
  var form = document.querySelector("[data-blackout]");
  if (!viewer || !frame) return;

  viewer.addEventListener("viewer:step", function (event) {
    var d = event.detail;
    document.querySelectorAll("[data-step-field]").forEach(function (f) { f.value = d.index; });
    document.querySelectorAll("[data-position-field]").forEach(function (f) { f.value = d.position; });
    var name = document.querySelector("[data-step-name]");
    if (name) name.textContent = d.action === "terminate" ? "the end (not a step)" : "step " + d.index;
    var drop = document.querySelector("[data-drop-button]");
    if (drop) drop.disabled = d.action === "terminate";
    if (form) form.querySelector("button[type=submit]").disabled = !d.image;
    clear();
  });

  if (!form) return;
  var corners = {};
  form.querySelectorAll("[data-corner]").forEach(function (input) {
    corners[input.dataset.corner] = input;
    input.addEventListener("input", drawFromInputs);
  });
  var box = document.createElement("div");
  box.className = "blackout-box";
  box.hidden = true;
  box.setAttribute("aria-hidden", "true");
  frame.appendChild(box);
  frame.classList.add("drawing");
  var start = null;

  function pct(event) {
    var r = frame.getBoundingClientRect();
    return [Math.max(0, Math.min(100, (event.clientX - r.left) / r.width * 100)),
            Math.max(0, Math.min(100, (event.clientY - r.top) / r.height * 100))];
  }
  function show(x0, y0, x1, y1) {
    box.hidden = false;
    box.style.left = Math.min(x0, x1) + "%";
    box.style.top = Math.min(y0, y1) + "%";
    box.style.width = Math.abs(x1 - x0) + "%";
    box.style.height = Math.abs(y1 - y0) + "%";
  }
  function clear() {
    box.hidden = true;
    Object.keys(corners).forEach(function (k) { corners[k].value = ""; });
  }
  function drawFromInputs() {
    var v = ["x0", "y0", "x1", "y1"].map(function (k) { return parseFloat(corners[k].value); });
    if (v.every(function (n) { return !isNaN(n); })) show(v[0], v[1], v[2], v[3]);
  }
  frame.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    event.preventDefault();
    start = pct(event);
    frame.setPointerCapture(event.pointerId);
  });
  frame.addEventListener("pointermove", function (event) {
    if (!start) return;
    var p = pct(event);
    show(start[0], start[1], p[0], p[1]);
  });
  frame.addEventListener("pointerup", function (event) {
    if (!start) return;
    var p = pct(event);
    var x0 = Math.min(start[0], p[0]), x1 = Math.max(start[0], p[0]);
    var y0 = Math.min(start[1], p[1]), y1 = Math.max(start[1], p[1]);
    start = null;
    if (x1 - x0 < 0.2 || y1 - y0 < 0.2) { clear(); return; }
    corners.x0.value = x0.toFixed(2); corners.y0.value = y0.toFixed(2);
    corners.x1.value = x1.toFixed(2); corners.y1.value = y1.toFixed(2);
    show(x0, y0, x1, y1);
  });
})();
