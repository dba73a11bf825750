"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { fakeBrowser, settle } = require("../support/fake-browser.js");
const { lib } = require("../support/extension.js");

const CONFIG = {
  v: 1, type: "config", protocol: 1, designated_sites: ["https://*.example.com/*"], excluded_urls: [],
  keep_url_query: false, site_masks: [{ url: "https://crm.example.com/*", selectors: [".ssn"] }],
};

function browser({ incognito = false, url = "https://crm.example.com/leads/4?token=abc#x" } = {}) {
  return fakeBrowser({
    windows: [{ id: 1, incognito, left: 10, top: 20, width: 1280, height: 900 },
      { id: 2, incognito: false, left: 0, top: 0, width: 800, height: 600 }],
    tabs: [
      { id: 11, windowId: 1, active: true, incognito, url, title: "Lead 4 - CRM", status: "complete" },
      { id: 12, windowId: 1, active: false, incognito, url: "https://news.test/story?id=9", title: "News", status: "complete" },
      { id: 21, windowId: 2, active: true, incognito: false, url: "https://mail.example.com/inbox", title: "Inbox", status: "complete" },
    ],
  });
}

const windows = (port) => port.sent.filter((m) => m.type === "window");
const last = (port, type) => port.sent.filter((m) => m.type === type).at(-1);

async function started(options) {
  const b = browser(options);
  await settle();
  b.port.receive(CONFIG);
  await settle();
  return b;
}

test("it connects to the host and says hello", async () => {
  const b = browser();
  await settle();
  assert.equal(b.port.name, "org.deskscribe.host");
  assert.deepEqual(b.port.sent[0], { v: 1, type: "hello", extension: "0.1.0", browser: "chromium", ua: "FakeBrowser/1.0" });
});

test("before a config arrives nothing is designated", async () => {
  const b = browser();
  await settle();
  const report = last(b.port, "window");
  assert.equal(report.designated, false);
  assert.ok(!("url" in report) && !("title" in report) && !("viewport" in report));
  assert.ok(b.toTabs.every(({ message }) => message.designated !== true));
});

test("a designated tab is reported with its URL stripped of query and fragment", async () => {
  const b = await started();
  const report = last(b.port, "window");
  assert.deepEqual(report, {
    v: 1, type: "window", seq: report.seq, window_id: 1, incognito: false, bounds: [10, 20, 1280, 900],
    tab_id: 11, focused: true, designated: true, url: "https://crm.example.com/leads/4", title: "Lead 4 - CRM",
  });
});

test("the policy may keep the query", async () => {
  const b = browser();
  await settle();
  b.port.receive({ ...CONFIG, keep_url_query: true });
  await settle();
  assert.equal(last(b.port, "window").url, "https://crm.example.com/leads/4?token=abc#x");
});

test("a tab that is not designated says only that", async () => {
  const b = await started({ url: "https://news.test/story?id=9" });
  const report = last(b.port, "window");
  assert.equal(report.designated, false);
  assert.ok(!("url" in report) && !("title" in report) && !("viewport" in report));
  assert.ok(!JSON.stringify(b.port.sent).includes("news.test"));
});

test("a private window is never designated, whatever its URL", async () => {
  const b = await started({ incognito: true });
  const report = last(b.port, "window");
  assert.equal(report.designated, false);
  assert.equal(report.incognito, true);
  assert.ok(!JSON.stringify(b.port.sent).includes("crm.example.com"));
  const reply = await b.fromPage(b.tabs[0], { kind: "page" });
  assert.deepEqual(reply, { kind: "designate", designated: false });
});

test("a tab switch sends a new window report at once", async () => {
  const b = await started();
  const before = windows(b.port).length;
  b.tabs[0].active = false;
  b.tabs[1].active = true;
  b.api.tabs.onActivated.fire({ tabId: 12, windowId: 1 });
  await settle();
  assert.equal(windows(b.port).length, before + 1);
  assert.deepEqual([last(b.port, "window").tab_id, last(b.port, "window").designated], [12, false]);
});

test("a route change in the tab is reported at once", async () => {
  const b = await started();
  b.tabs[0].url = "https://crm.example.com/leads/5?q=x";
  b.api.tabs.onUpdated.fire(11, { url: b.tabs[0].url }, structuredClone(b.tabs[0]));
  await settle();
  assert.equal(last(b.port, "window").url, "https://crm.example.com/leads/5");
});

test("focus leaving the browser is reported for the window that had it", async () => {
  const b = await started();
  b.api.windows.onFocusChanged.fire(-1);
  await settle();
  const report = last(b.port, "window");
  assert.deepEqual([report.window_id, report.focused, report.designated], [1, false, false]);
  assert.ok(!("url" in report));
  b.api.windows.onFocusChanged.fire(2);
  await settle();
  assert.deepEqual([last(b.port, "window").window_id, last(b.port, "window").url], [2, "https://mail.example.com/inbox"]);
});

test("the focused window is reported again every 2 s", async () => {
  const b = await started();
  const before = windows(b.port).length;
  b.timers.advance(2000);
  await settle();
  b.timers.advance(2000);
  await settle();
  const reports = windows(b.port);
  assert.equal(reports.length, before + 2);
  assert.ok(reports.at(-1).seq > reports.at(-2).seq);
});

test("after a disconnect it reconnects in 5 s, never in a tight loop", async () => {
  const b = await started();
  assert.equal(b.ports.length, 1);
  b.port.onDisconnect.fire(b.port);
  await settle();
  b.timers.advance(4999);
  assert.equal(b.ports.length, 1);
  b.timers.advance(1);
  assert.equal(b.ports.length, 2);
  b.port.onDisconnect.fire(b.port);
  b.timers.advance(5000);
  assert.equal(b.ports.length, 3);
  await settle();
  assert.equal(b.port.sent[0].type, "hello");
  assert.equal(last(b.port, "window").designated, false, "a new recorder sends its own config first");
});

test("a lost recorder takes its config along: pages stop reporting", async () => {
  const b = await started();
  b.pages.set(11, () => ({}));
  b.port.onDisconnect.fire(b.port);
  await settle();
  assert.deepEqual(b.toTabs.filter((t) => t.tabId === 11).at(-1).message, { kind: "designate", designated: false });
});

test("ping is answered; unknown and malformed messages are counted and ignored", async () => {
  const b = await started();
  b.port.receive({ v: 1, type: "ping" });
  assert.deepEqual(b.port.sent.at(-1), { v: 1, type: "pong" });
  for (const bad of [{}, { v: 2, type: "ping" }, { v: 1, type: "nope" }, { v: 1, type: "snapshot", request: "x" },
    { v: 1, type: "config", designated_sites: "all" }, { type: "ping" }]) {
    b.port.receive(bad);
  }
  b.port.onMessage.fire(null);
  b.port.onMessage.fire("text");
  await settle();
  assert.equal(b.state.ignored, 8);
  assert.equal(last(b.port, "window").designated, true, "a malformed config leaves the last good one");
});

test("a snapshot is answered from the page, with screen text and every rectangle list", async () => {
  const b = await started();
  const page = {
    viewport: lib.viewportOnScreen({ screenX: 10, screenY: 20, outerWidth: 1280, outerHeight: 900, innerWidth: 1280, innerHeight: 800, devicePixelRatio: 1 }),
    runs: [{ text: "Jane Doe", words: [[0, 4, 1, 2, 3, 4], [5, 8, 5, 2, 3, 4]] }], masks: [[0, 0, 5, 5]], opaque: [], truncated: false,
  };
  b.pages.set(11, (msg) => (msg.kind === "snapshot" ? page : undefined));
  b.port.receive({ v: 1, type: "snapshot", request: 7, window_id: 1 });
  await settle();
  const reply = last(b.port, "text");
  assert.equal(reply.request, 7);
  assert.equal(reply.url, "https://crm.example.com/leads/4");
  assert.deepEqual([reply.window_id, reply.tab_id, reply.truncated], [1, 11, false]);
  assert.deepEqual([reply.runs, reply.masks, reply.opaque], [page.runs, page.masks, []]);
  assert.deepEqual([reply.viewport.x, reply.viewport.y, reply.viewport.width], [10, 120, 1280]);
});

test("a snapshot for a window that is not designated says only that", async () => {
  const b = await started({ url: "https://news.test/" });
  b.pages.set(11, () => ({ runs: [{ text: "leak", words: [] }], masks: [], opaque: [], truncated: false }));
  b.port.receive({ v: 1, type: "snapshot", request: 8, window_id: 1 });
  b.port.receive({ v: 1, type: "snapshot", request: 9, window_id: 2 });
  await settle();
  const texts = b.port.sent.filter((m) => m.type === "text").sort((x, y) => x.request - y.request);
  assert.deepEqual(texts, [{ v: 1, type: "text", request: 8, designated: false }, { v: 1, type: "text", request: 9, designated: false }]);
});

test("a page without its reader gets one injected and the recorder an error", async () => {
  const b = await started();
  b.port.receive({ v: 1, type: "snapshot", request: 3, window_id: 1 });
  await settle();
  assert.equal(last(b.port, "error").type, "error");
  assert.deepEqual(b.injected.at(-1), { target: { tabId: 11 }, files: ["lib.js", "page.js", "content.js"] });
});

test("an oversized snapshot is cut to fit and marked truncated", async () => {
  const b = await started();
  const runs = Array.from({ length: 300 }, () => ({ text: "y".repeat(5000), words: [[0, 5000, 0, 0, 10, 10]] }));
  b.pages.set(11, () => ({ viewport: null, runs, masks: [], opaque: [], truncated: false }));
  b.port.receive({ v: 1, type: "snapshot", request: 4, window_id: 1 });
  await settle();
  const reply = last(b.port, "text");
  assert.equal(reply.truncated, true);
  assert.ok(lib.byteSize(reply) <= lib.MAX_MESSAGE_BYTES && reply.runs.length < runs.length);
});

test("targets pass only from designated pages, masked ones without name or value", async () => {
  const b = await started();
  const target = { tag: "select", role: "combobox", name: "Country", type: null, autocomplete: null, bbox: [1, 2, 3, 4],
    selector: "#c", sensitive: null, masked: false, states: ["focused"] };
  await b.fromPage(b.tabs[0], { kind: "target", event: "change", t_ms: 1.5, target, value: "Germany" });
  await b.fromPage(b.tabs[1], { kind: "target", event: "pointerdown", t_ms: 2, target });
  await b.fromPage(b.tabs[0], { kind: "target", event: "change", t_ms: 3, target: { ...target, masked: true }, value: "France" });
  await b.fromPage(b.tabs[0], { kind: "target", event: "keypress", t_ms: 4, target });
  const targets = b.port.sent.filter((m) => m.type === "target");
  assert.equal(targets.length, 2);
  assert.deepEqual(targets[0], { v: 1, type: "target", seq: targets[0].seq, window_id: 1, tab_id: 11, event: "change", t_ms: 1.5, target, value: "Germany" });
  assert.equal(targets[1].target.name, "");
  assert.ok(!("value" in targets[1]));
});

test("a content script learns whether its page is designated and which masks apply", async () => {
  const b = await started();
  assert.deepEqual(await b.fromPage(b.tabs[0], { kind: "page" }),
    { kind: "designate", designated: true, masks: [".ssn"], zoom: 1, screenUnits: "dip" });
  assert.deepEqual(await b.fromPage(b.tabs[1], { kind: "page" }), { kind: "designate", designated: false });
});

test("a viewport the page reports goes out with the next window report, geometry only", async () => {
  const b = await started();
  const viewport = { ...lib.viewportOnScreen({ screenX: 10, screenY: 20, outerWidth: 1280, outerHeight: 900, innerWidth: 1280, innerHeight: 800, devicePixelRatio: 1 }), text: "no" };
  await b.fromPage(b.tabs[0], { kind: "viewport", viewport });
  await settle();
  const report = last(b.port, "window").viewport;
  assert.deepEqual([report.x, report.y, report.width, report.height, report.dpr, report.zoom], [10, 120, 1280, 800, 1, 1]);
  assert.ok(!("text" in report));
  await b.fromPage(b.tabs[1], { kind: "viewport", viewport: { ...viewport, x: 999 } });
  await settle();
  assert.equal(last(b.port, "window").viewport.x, 10);
});
