// The step viewer: arrow keys and the thumbnail strip choose the step; only the chosen
// screenshot is loaded full size (and the next one, ahead of time).
(function () {
  "use strict";

  function setUp(root) {
    var thumbs = Array.prototype.slice.call(root.querySelectorAll("[data-step]"));
    if (!thumbs.length) return;
    var shot = root.querySelector("[data-shot]");
    var missing = root.querySelector("[data-missing]");
    var frame = root.querySelector("[data-frame]");
    var svg = root.querySelector("[data-overlays]");
    var overlays = root.querySelectorAll("[data-overlay]");
    var title = root.querySelector("[data-caption-title]");
    var text = root.querySelector("[data-caption-text]");
    var stage = root.querySelector("[data-stage]");
    var current = 0;
    var ahead = new Image();

    var strip = root.querySelector(".thumbs");

    function keepInStrip(t) {  // scroll the strip only, never the page under the reader's eyes
      var left = t.offsetLeft, right = left + t.offsetWidth;  // the strip is the offset parent
      if (left < strip.scrollLeft) strip.scrollLeft = left;
      else if (right > strip.scrollLeft + strip.clientWidth) strip.scrollLeft = right - strip.clientWidth;
    }

    function show(position, focusThumb) {
      position = Math.max(0, Math.min(thumbs.length - 1, position));
      var t = thumbs[position];
      thumbs[current].removeAttribute("aria-current");
      overlays[current].setAttribute("hidden", "");
      current = position;
      t.setAttribute("aria-current", "step");
      overlays[current].removeAttribute("hidden");
      var w = t.dataset.width, h = t.dataset.height;
      frame.style.setProperty("--aspect", String(w / h));
      svg.setAttribute("viewBox", "0 0 " + w + " " + h);
      if (t.dataset.image) {
        shot.src = t.dataset.image;
        shot.alt = "Screenshot the person saw before " + t.dataset.label.toLowerCase();
      } else {
        shot.removeAttribute("src");
      }
      shot.hidden = !t.dataset.image;
      missing.hidden = Boolean(t.dataset.image);
      title.textContent = t.dataset.label + " of " + thumbs.length;
      text.textContent = t.dataset.summary;
      keepInStrip(t);
      if (focusThumb) t.focus({preventScroll: true});
      var next = thumbs[position + 1];
      if (next && next.dataset.image) ahead.src = next.dataset.image;
      root.dispatchEvent(new CustomEvent("viewer:step", {bubbles: true, detail: {
        position: position, index: Number(t.dataset.index), action: t.dataset.action,
        image: t.dataset.image, width: Number(w), height: Number(h)}}));
    }

    thumbs.forEach(function (t, i) {
      t.addEventListener("click", function () { show(i, false); });
    });
    root.querySelector("[data-prev]").addEventListener("click", function () { show(current - 1, false); });
    root.querySelector("[data-next]").addEventListener("click", function () { show(current + 1, false); });

    function keys(event) {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      var target = event.target;
      if (target.closest && target.closest("input, textarea, select")) return;
      var moves = {ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: thumbs.length - 1};
      if (!(event.key in moves)) return;
      event.preventDefault();
      var onThumb = target.hasAttribute && target.hasAttribute("data-step");
      show(moves[event.key], onThumb);
    }
    document.addEventListener("keydown", keys);
    frame.style.setProperty("--aspect", String(thumbs[0].dataset.width / thumbs[0].dataset.height));
    root.viewer = {show: show, current: function () { return current; }};
    var wanted = Number(new URLSearchParams(location.search).get("step"));
    if (wanted > 0) {
      var at = thumbs.findIndex(function (t) { return Number(t.dataset.index) === wanted; });
      if (at >= 0) show(at, false);
    }
    if (stage) stage.dataset.ready = "1";
  }

  document.querySelectorAll("[data-viewer]").forEach(setUp);
})();
