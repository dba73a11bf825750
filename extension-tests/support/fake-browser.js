"use strict";

/**
 * A browser as background.js sees it: windows, tabs, a native port and timers the test
 * drives by hand. Everything the port carries is copied through JSON, as native messaging
 * does, so assertions compare plain objects.
 */
const vm = require("node:vm");
const { lib, source } = require("./extension.js");

class FakeEvent {
  constructor() {
    this.listeners = [];
  }

  addListener(fn) {
    this.listeners.push(fn);
  }

  fire(...args) {
    return this.listeners.map((fn) => fn(...args));
  }
}

class FakePort {
  constructor(name) {
    this.name = name;
    this.sent = [];
    this.onMessage = new FakeEvent();
    this.onDisconnect = new FakeEvent();
  }

  postMessage(message) {
    this.sent.push(JSON.parse(JSON.stringify(message)));
  }

  /** What the recorder says, as the host relays it. */
  receive(message) {
    this.onMessage.fire(JSON.parse(JSON.stringify(message)));
  }
}

class FakeTimers {
  constructor() {
    this.now = 0;
    this.next = 1;
    this.pending = new Map();
    this.setTimeout = (fn, ms) => this.add(fn, ms, false);
    this.setInterval = (fn, ms) => this.add(fn, ms, true);
    this.clearTimeout = (id) => this.pending.delete(id);
    this.clearInterval = this.clearTimeout;
  }

  add(fn, ms, repeat) {
    const id = this.next++;
    this.pending.set(id, { fn, at: this.now + Math.max(1, ms), every: repeat ? ms : null });
    return id;
  }

  /** Runs every timer due within `ms`, in time order. */
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      const [id, t] = due;
      this.now = t.at;
      if (t.every === null) this.pending.delete(id);
      else t.at += t.every;
      t.fn();
    }
    this.now = end;
  }
}

/** Lets every promise chain the background started run to its end. */
async function settle() {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

function fakeBrowser({ windows, tabs, focused = windows[0]?.id ?? -1 }) {
  const timers = new FakeTimers();
  const ports = [];
  const toTabs = [];
  const pages = new Map();
  const injected = [];
  const byId = (list, id) => list.find((x) => x.id === id);
  const found = (x) => (x ? Promise.resolve(structuredClone(x)) : Promise.reject(new Error("no such thing")));
  const api = {
    runtime: {
      id: "deskscribe-test",
      lastError: undefined,
      getManifest: () => ({ version: "0.1.0" }),
      connectNative: (name) => {
        const port = new FakePort(name);
        ports.push(port);
        return port;
      },
      onMessage: new FakeEvent(),
    },
    windows: {
      WINDOW_ID_NONE: -1,
      get: (id) => found(byId(windows, id)),
      getLastFocused: () => found(byId(windows, focused) ?? windows[0]),
      onFocusChanged: new FakeEvent(),
      onRemoved: new FakeEvent(),
      onBoundsChanged: new FakeEvent(),
    },
    tabs: {
      query: (q) => Promise.resolve(structuredClone(tabs.filter((t) => (q.active === undefined || t.active === q.active)
        && (q.windowId === undefined || t.windowId === q.windowId)))),
      get: (id) => found(byId(tabs, id)),
      getZoom: () => Promise.resolve(1),
      sendMessage: (tabId, message) => {
        toTabs.push({ tabId, message: JSON.parse(JSON.stringify(message)) });
        const reply = pages.get(tabId);
        return reply ? Promise.resolve(reply(message)) : Promise.reject(new Error("Could not establish connection"));
      },
      onActivated: new FakeEvent(),
      onUpdated: new FakeEvent(),
      onRemoved: new FakeEvent(),
      onZoomChange: new FakeEvent(),
    },
    scripting: {
      executeScript: (details) => {
        injected.push(JSON.parse(JSON.stringify(details)));
        return Promise.resolve([]);
      },
    },
  };
  for (const w of windows) w.focused = w.id === focused;
  const context = vm.createContext({
    chrome: api, navigator: { userAgent: "FakeBrowser/1.0" }, deskscribeLib: lib,
    setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout,
    setInterval: timers.setInterval, clearInterval: timers.clearInterval,
  });
  vm.runInContext(source("background.js"), context, { filename: "background.js" });
  return {
    api, timers, ports, toTabs, pages, injected, windows, tabs,
    get port() {
      return ports[ports.length - 1];
    },
    get state() {
      return context.deskscribeBackground;
    },
    /** A message from the content script in `tab` (its top frame, at its URL). */
    fromPage(tab, message) {
      return new Promise((resolve) => {
        const sender = { id: api.runtime.id, tab: structuredClone(tab), frameId: 0, url: tab.url };
        const reply = (r) => resolve(r === undefined ? r : JSON.parse(JSON.stringify(r)));
        const async = api.runtime.onMessage.fire(JSON.parse(JSON.stringify(message)), sender, reply)[0];
        if (async !== true) resolve(undefined);
      });
    },
  };
}

module.exports = { fakeBrowser, settle, FakeTimers };
