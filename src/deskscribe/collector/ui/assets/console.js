// The datasets page follows running builds: while a row is building, the list is fetched again
// every two seconds and replaced in place, so focus and scrolling stay where they are.
(function () {
  "use strict";
  var region = document.querySelector("[data-datasets]");
  if (!region) return;

  function poll() {
    if (!region.hasAttribute("data-building")) return;
    fetch(window.location.pathname, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-datasets]");
        if (!fresh) return;
        var active = document.activeElement && region.contains(document.activeElement);
        region.innerHTML = fresh.innerHTML;
        if (fresh.hasAttribute("data-building")) {
          region.setAttribute("data-building", "");
        } else {
          region.removeAttribute("data-building");
          var status = region.querySelector("[data-datasets-status]");
          if (status) status.textContent = "The build finished.";
        }
        if (active) region.querySelector("a, button") && region.querySelector("a, button").focus();
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
})();
