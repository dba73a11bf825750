"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { lib } = require("../support/extension.js");
const { page, VIEWPORT_WINDOW } = require("../support/layout.js");

const VP = lib.viewportOnScreen(VIEWPORT_WINDOW);
const read = (html, masks = [], options = {}) => lib.visibleText(page(html).document.documentElement, VP, masks, options);
const allText = (out) => out.runs.map((r) => r.text).join("\n");

/** deskscribe/browser/page.py's reading of the runs: what it would count as cut. */
function recorderCuts(out) {
  let offset = 0;
  let words = 0;
  for (const run of out.runs) {
    const length = [...run.text].length;
    if (offset + length > 20000 || words + run.words.length > 5000) return true;
    for (const [s, e, , , w, h] of run.words) {
      if (!Number.isInteger(s) || !Number.isInteger(e) || !(0 <= s && s < e && e <= length) || w <= 0 || h <= 0) return true;
    }
    words += run.words.length;
    offset += length + 1;
  }
  return false;
}

test("each word has its screen rectangle", () => {
  const out = read(`<p data-rect="0 0 500 20">Hello   world</p>`);
  assert.deepEqual(out, {
    runs: [{ text: "Hello world", words: [[0, 5, 100, 150, 50, 20], [6, 11, 180, 150, 50, 20]] }],
    masks: [], opaque: [], truncated: false,
  });
});

test("inline elements stay in their block's run so an address split by markup reads whole", () => {
  const out = read(`<div data-rect="0 0 500 40"><p data-rect="0 0 500 20">Mail <b data-rect="50 0 40 20">jane</b>@example.com</p>
    <p data-rect="0 20 500 20">next</p></div>`);
  assert.deepEqual(out.runs.map((r) => r.text), ["Mail jane@example.com", "next"]);
  assert.deepEqual(out.runs[0].words.map(([s, e]) => [s, e]), [[0, 4], [5, 9], [9, 21]]);
  assert.equal(recorderCuts(out), false);
});

test("a word wrapped over two lines gives one entry per line with the same offsets", () => {
  const out = read(`<p data-rect="0 0 100 40" data-wrap="6">ab verylongword</p>`);
  assert.deepEqual(out.runs[0].words, [[0, 2, 100, 150, 20, 20], [3, 15, 130, 150, 30, 20], [3, 15, 100, 170, 90, 20]]);
});

test("hidden, offscreen, zero-size and non-content text is left out", () => {
  const out = read(`
    <p data-rect="0 0 500 20">shown</p>
    <p data-rect="0 20 500 20" style="display:none">nodisplay</p>
    <p data-rect="0 40 500 20" style="visibility:hidden">invisible <span style="visibility:visible" data-rect="0 60 500 20">back</span></p>
    <p>nosize</p>
    <p data-rect="0 5000 500 20">below</p>
    <p data-rect="-900 0 500 20">left</p>
    <script>var secret = 1;</script><style>.x{}</style><noscript>nojs</noscript><template><p>tpl</p></template>`);
  assert.equal(allText(out), "shown\nback");
});

test("masked elements never give text, only their rectangle", () => {
  const out = read(`
    <div class="ssn" data-rect="0 0 200 20"><b data-rect="0 0 200 20">123-45-6789</b></div>
    <p data-deskscribe="mask" data-rect="0 20 200 20">builtin</p>
    <p class="rr-block" data-rect="0 40 200 20">rrweb</p>
    <p class="ph-no-capture" data-rect="0 60 200 20">posthog</p>
    <p data-rect="0 80 200 20">free</p>
    <p class="ssn" data-rect="0 5000 200 20">offscreen</p>`, [".ssn", "p["]);
  assert.equal(allText(out), "free");
  assert.deepEqual(out.masks, [[100, 150, 200, 20], [100, 170, 200, 20], [100, 190, 200, 20], [100, 210, 200, 20]]);
});

test("a mask covers what overflows the masked box, and a masked element without a box", () => {
  const out = read(`<div class="ssn" style="display:contents"><span data-rect="0 0 100 20">123-45-6789</span></div>
    <div class="ssn" data-rect="0 100 50 20"><span data-rect="0 100 300 40">overflowing</span></div>`, [".ssn"]);
  assert.deepEqual(out.runs, []);
  assert.deepEqual(out.masks, [[100, 150, 100, 20], [100, 250, 300, 40]]);
});

test("secret field values never appear; their boxes are masked", () => {
  const win = page(`<input type="password" data-rect="0 0 200 30"><input autocomplete="one-time-code" data-rect="0 30 200 30">
    <input autocomplete="billing cc-number" data-rect="0 60 200 30"><input autocomplete="cc-csc" data-rect="0 90 200 30">
    <input id="user" data-rect="0 120 200 30">`);
  const values = ["hunter2-secret", "987654", "4111111111111111", "737"];
  [...win.document.querySelectorAll("input")].slice(0, 4).forEach((el, i) => { el.value = values[i]; });
  win.document.querySelector("#user").value = "jane.doe";
  const out = lib.visibleText(win.document.documentElement, VP, []);
  const json = JSON.stringify(out);
  for (const v of values) assert.ok(!json.includes(v), v);
  assert.deepEqual(out.runs, [{ text: "jane.doe", words: [[0, 8, 100, 270, 200, 30]] }]);
  assert.equal(out.masks.length, 4);
});

test("visible control values are runs with the control's box", () => {
  const win = page(`<textarea data-rect="0 0 300 60">line one
    line two</textarea><select data-rect="0 60 100 20"><option value="v1">France</option><option value="v2" selected>Germany</option></select>
    <input type="submit" value="Send" data-rect="0 80 60 20"><input placeholder="Search…" data-rect="0 100 200 20">
    <input type="hidden" value="tok" data-rect="0 120 10 10"><input type="checkbox" value="on" data-rect="0 130 10 10">`);
  const out = lib.visibleText(win.document.documentElement, VP, []);
  assert.deepEqual(out.runs.map((r) => r.text), ["line one line two", "Germany", "Send", "Search…"]);
  assert.deepEqual(out.runs[1].words, [[0, 7, 100, 210, 100, 20]]);
  assert.ok(!JSON.stringify(out).includes("v2"));
});

test("images, canvas, frames and background images are reported as opaque", () => {
  const out = read(`<img data-rect="0 0 50 50"><canvas data-rect="50 0 50 50"></canvas><svg data-rect="100 0 50 50"><text>t</text></svg>
    <iframe data-rect="150 0 50 50"></iframe><video data-rect="200 0 50 50"></video>
    <div style="background-image:url(x.png)" data-rect="0 100 300 20"><span data-rect="0 100 300 20">over</span></div>
    <img data-rect="0 3000 50 50"><img class="rr-block" data-rect="0 200 50 50">`);
  assert.deepEqual(out.opaque, [[100, 150, 50, 50], [150, 150, 50, 50], [200, 150, 50, 50], [250, 150, 50, 50], [300, 150, 50, 50], [100, 250, 300, 20]]);
  assert.equal(allText(out), "over");
  assert.deepEqual(out.masks, [[100, 350, 50, 50]]);
});

test("a page without images still says so with an empty opaque list", () => {
  assert.deepEqual(read(`<p data-rect="0 0 100 20">x</p>`).opaque, []);
});

test("offsets count code points as the recorder does", () => {
  const out = read(`<p data-rect="0 0 500 20">😀 ok mail@x.org</p>`);
  assert.deepEqual(out.runs[0].words.map(([s, e]) => [s, e]), [[0, 1], [2, 4], [5, 15]]);
  assert.equal(recorderCuts(out), false);
});

test("open shadow roots are read", () => {
  const win = page(`<div id="host" data-rect="0 0 100 20"></div>`);
  const root = win.document.querySelector("#host").attachShadow({ mode: "open" });
  root.innerHTML = `<span data-rect="0 0 100 20">shadowed</span>`;
  assert.equal(allText(lib.visibleText(win.document.documentElement, VP, [])), "shadowed");
});

test("the caps hold as the recorder counts them, and a cut says truncated", () => {
  const paragraphs = Array.from({ length: 900 }, (_, i) => `<p data-rect="0 0 1000 20">${"w ".repeat(10)}${i}</p>`);
  const out = read(paragraphs.join(""));
  assert.equal(out.truncated, true);
  assert.equal(out.runs.reduce((n, r) => n + r.words.length, 0), 5000);
  assert.equal(recorderCuts(out), false);
  const long = Array.from({ length: 30 }, () => `<p data-rect="0 0 1000 20">${"x".repeat(1000)}</p>`).join("");
  const byChars = read(long);
  assert.equal(byChars.truncated, true);
  assert.ok(byChars.runs.reduce((n, r) => n + r.text.length + 1, 0) - 1 <= 20000);
  assert.equal(recorderCuts(byChars), false);
});

test("a page that runs out of time is truncated", () => {
  let t = 0;
  const out = read(`<p data-rect="0 0 100 20">a</p><p data-rect="0 20 100 20">b</p>`, [], { now: () => t++, deadline: 3 });
  assert.equal(out.truncated, true);
});

test("the viewport is placed below the browser's own chrome, per browser units", () => {
  const chromium = lib.viewportOnScreen({
    screenX: 100, screenY: 50, outerWidth: 1280, outerHeight: 900, innerWidth: 1024, innerHeight: 640, devicePixelRatio: 1.25,
  }, { zoom: 1.25, screenUnits: "dip" });
  assert.deepEqual([chromium.x, chromium.y, chromium.width, chromium.height, chromium.scale], [100, 150, 1280, 800, 1.25]);
  const hidpi = lib.viewportOnScreen({
    screenX: 100, screenY: 50, outerWidth: 1280, outerHeight: 900, innerWidth: 1280, innerHeight: 800, devicePixelRatio: 2,
  });
  assert.deepEqual([hidpi.x, hidpi.y, hidpi.width, hidpi.height, hidpi.dpr, hidpi.zoom], [200, 300, 2560, 1600, 2, 1]);
  const firefox = lib.viewportOnScreen({
    screenX: 50, screenY: 25, outerWidth: 640, outerHeight: 450, innerWidth: 640, innerHeight: 400, devicePixelRatio: 2,
  }, { zoom: 1, screenUnits: "css" });
  assert.deepEqual([firefox.x, firefox.y, firefox.width, firefox.height], [100, 150, 1280, 800]);
  assert.equal(firefox.raw.screenUnits, "css");
  assert.equal(firefox.raw.outerHeight, 450);
  const framed = lib.viewportOnScreen({  // Chromium drawing its own 4 px frame, as under openbox
    screenX: 0, screenY: 0, outerWidth: 1200, outerHeight: 760, innerWidth: 1192, innerHeight: 613, devicePixelRatio: 1,
  });
  assert.deepEqual([framed.x, framed.y, framed.width, framed.height], [4, 143, 1192, 613]);
});

test("a pinch-zoomed visual viewport moves and scales client rectangles", () => {
  const vp = lib.viewportOnScreen({ ...VIEWPORT_WINDOW, visualViewport: { offsetLeft: 100, offsetTop: 50, scale: 2 } });
  assert.deepEqual(lib.toScreen({ left: 110, top: 60, width: 10, height: 5 }, vp), [120, 170, 20, 10]);
  assert.equal(lib.clip({ left: 0, top: 0, width: 50, height: 20 }, vp), null);
});
