/**
 * The extension's background: keeps one native messaging port to the recorder, tells it
 * which window is in front and whether its active tab is a designated site, and relays the
 * content script's reports from designated pages only. Runs as Chromium's service worker and
 * as Firefox's background scripts (where lib.js is loaded first by the manifest).
 */
"use strict";

if (typeof importScripts === "function" && typeof deskscribeLib === "undefined") {
  importScripts("lib.js");
}

(() => {
  const api = globalThis.browser ?? globalThis.chrome;
  const lib = globalThis.deskscribeLib;
  const HOST = "org.deskscribe.host";
  const RETRY_MS = 5000;
  const HEARTBEAT_MS = 2000;
  const SNAPSHOT_WAIT_MS = 1000;
  const MAX_TITLE = 2000;
  const NONE = api.windows.WINDOW_ID_NONE;
  const BROWSER = typeof api.runtime.getBrowserInfo === "function" ? "firefox" : "chromium";
  const SCREEN_UNITS = BROWSER === "firefox" ? "css" : "dip";
  const TARGET_EVENTS = new Set(["pointerdown", "keydown", "change", "scroll", "focus"]);

  /** Inspectable from the extension's own console: what it holds and what it refused. */
  const state = {
    port: null,
    config: null,
    seq: 0,
    ignored: 0,
    retry: null,
    focusedWindowId: NONE,
    lastWindow: null,
    lastKey: null,
    viewports: new Map(),
    zooms: new Map(),
    told: new Map(),
  };
  globalThis.deskscribeBackground = state;

  function send(body) {
    if (!state.port) return false;
    const message = lib.fitMessage({ v: lib.PROTOCOL, ...body });
    try {
      state.port.postMessage(message ?? { v: lib.PROTOCOL, type: "error", message: `a ${body.type} message was over the size limit` });
      return true;
    } catch {
      return false;
    }
  }

  function connect() {
    state.retry = null;
    let port;
    try {
      port = api.runtime.connectNative(HOST);
    } catch {
      scheduleRetry();
      return;
    }
    state.port = port;
    state.lastKey = null;
    port.onMessage.addListener(onHostMessage);
    port.onDisconnect.addListener(() => {
      void api.runtime.lastError;
      if (state.port !== port) return;
      state.port = null;
      state.config = null;
      void retell();
      scheduleRetry();
    });
    send({ type: "hello", extension: api.runtime.getManifest().version, browser: BROWSER, ua: navigator.userAgent });
    void report();
  }

  /** Without a recorder the host exits at once: try again later, never in a tight loop. */
  function scheduleRetry() {
    if (state.retry === null) state.retry = setTimeout(connect, RETRY_MS);
  }

  function onHostMessage(msg) {
    if (!msg || typeof msg !== "object" || msg.v !== lib.PROTOCOL || typeof msg.type !== "string") {
      state.ignored += 1;
      return;
    }
    if (msg.type === "config") {
      const config = lib.validateConfig(msg);
      if (config === null) {
        state.ignored += 1;
        return;
      }
      state.config = config;
      void retell();
      void report();
    } else if (msg.type === "snapshot" && Number.isInteger(msg.request) && Number.isInteger(msg.window_id)) {
      void snapshot(msg.request, msg.window_id);
    } else if (msg.type === "ping") {
      send({ type: "pong" });
    } else {
      state.ignored += 1;
    }
  }

  const isPrivate = (tab, win) => tab.incognito !== false || (win !== undefined && win.incognito !== false);
  const designated = (tab, win) => Boolean(tab) && !isPrivate(tab, win) && lib.isDesignated(tab.url, state.config);

  async function zoomOf(tabId) {
    if (!state.zooms.has(tabId)) {
      try {
        state.zooms.set(tabId, await api.tabs.getZoom(tabId));
      } catch {
        return 1;
      }
    }
    return state.zooms.get(tabId);
  }

  /** What a tab's content script should do: nothing, unless its page is designated. */
  async function pageState(tab) {
    if (!designated(tab)) return { kind: "designate", designated: false };
    return {
      kind: "designate", designated: true, masks: lib.masksFor(tab.url, state.config),
      zoom: await zoomOf(tab.id), screenUnits: SCREEN_UNITS,
    };
  }

  async function tell(tab) {
    const page = await pageState(tab);
    const key = JSON.stringify(page);
    if (state.told.get(tab.id) === key) return;
    state.told.set(tab.id, key);
    try {
      await api.tabs.sendMessage(tab.id, page, { frameId: 0 });
    } catch {
      if (page.designated && tab.status === "complete") await inject(tab.id);
    }
  }

  /** Pages loaded before the extension have no content script; it asks for its state itself. */
  async function inject(tabId) {
    try {
      await api.scripting.executeScript({ target: { tabId }, files: ["lib.js", "page.js", "content.js"] });
    } catch {
      state.told.delete(tabId);
    }
  }

  async function retell() {
    state.told.clear();
    for (const tab of await api.tabs.query({})) await tell(tab);
  }

  async function activeTab(windowId) {
    const [tab] = await api.tabs.query({ active: true, windowId });
    return tab ?? null;
  }

  async function windowMessage() {
    const id = state.focusedWindowId;
    if (id === NONE) {
      const last = state.lastWindow ?? { window_id: NONE, incognito: false };
      return { type: "window", ...last, focused: false, designated: false };
    }
    const win = await api.windows.get(id);
    const tab = await activeTab(id);
    const base = {
      window_id: id, incognito: win.incognito !== false || tab?.incognito === true,
      bounds: [win.left, win.top, win.width, win.height], tab_id: tab?.id ?? -1,
    };
    state.lastWindow = base;
    const msg = { type: "window", ...base, focused: true, designated: designated(tab, win) };
    if (!msg.designated) return msg;
    msg.url = lib.stripUrl(tab.url, state.config.keep_url_query);
    msg.title = String(tab.title ?? "").slice(0, MAX_TITLE);
    const viewport = state.viewports.get(tab.id);
    if (viewport) msg.viewport = viewport;
    return msg;
  }

  let reporting = Promise.resolve();

  /** One report at a time, in order; unchanged reports wait for the heartbeat. */
  function report(heartbeat = false) {
    reporting = reporting.then(async () => {
      if (!state.port) return;
      const msg = await windowMessage();
      const key = JSON.stringify(msg);
      if (!heartbeat && key === state.lastKey) return;
      state.lastKey = key;
      send({ ...msg, seq: ++state.seq });
    }).catch(() => {
      state.lastKey = null;
    });
    return reporting;
  }

  async function snapshot(request, windowId) {
    const notDesignated = () => send({ type: "text", request, designated: false });
    if (windowId !== state.focusedWindowId) return notDesignated();
    let tab;
    let win;
    try {
      win = await api.windows.get(windowId);
      tab = await activeTab(windowId);
    } catch {
      return send({ type: "error", message: `window ${windowId} is gone` });
    }
    if (!designated(tab, win)) return notDesignated();
    let page;
    try {
      page = await within(api.tabs.sendMessage(tab.id, { kind: "snapshot" }, { frameId: 0 }), SNAPSHOT_WAIT_MS);
    } catch {
      await inject(tab.id);
      return send({ type: "error", message: `tab ${tab.id} has no page reader yet` });
    }
    const now = await api.tabs.get(tab.id).catch(() => null);
    if (!page || page.designated === false || !designated(now, win) || now.url !== tab.url) return notDesignated();
    if (page.viewport) state.viewports.set(tab.id, viewportOf(page.viewport));
    return send({
      type: "text", seq: ++state.seq, request, window_id: windowId, tab_id: tab.id,
      url: lib.stripUrl(tab.url, state.config.keep_url_query), viewport: viewportOf(page.viewport),
      runs: Array.isArray(page.runs) ? page.runs : [], masks: Array.isArray(page.masks) ? page.masks : [],
      opaque: Array.isArray(page.opaque) ? page.opaque : [], truncated: page.truncated !== false,
    });
  }

  function within(promise, ms) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("timed out")), ms);
      promise.then((v) => {
        clearTimeout(timer);
        resolve(v);
      }, (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

  /** Only the geometry of a viewport report crosses to the recorder, never anything else a
   * page's process might have added. */
  function viewportOf(v) {
    if (!v || typeof v !== "object") return null;
    const out = {};
    for (const k of ["x", "y", "width", "height", "dpr", "zoom", "scale"]) out[k] = num(v[k]);
    out.raw = {};
    for (const [k, value] of Object.entries(v.raw ?? {})) {
      if (num(value) !== null || value === "css" || value === "dip") out.raw[k] = value;
    }
    return out;
  }

  function targetOf(msg, sender) {
    const t = msg.target;
    if (!TARGET_EVENTS.has(msg.event) || !t || typeof t !== "object") return null;
    const out = {
      type: "target", seq: ++state.seq, window_id: sender.tab.windowId, tab_id: sender.tab.id, event: msg.event,
      t_ms: num(msg.t_ms) ?? Date.now(),
      target: {
        tag: t.tag, role: t.role, name: t.masked === true ? "" : t.name, type: t.type ?? null,
        autocomplete: t.autocomplete ?? null, bbox: t.bbox, selector: t.selector, sensitive: t.sensitive ?? null,
        masked: t.masked === true, states: Array.isArray(t.states) ? t.states : [],
      },
    };
    const plain = t.masked !== true && (t.sensitive ?? null) === null;
    if (msg.event === "change" && t.tag === "select" && plain && typeof msg.value === "string") {
      out.value = msg.value;
    }
    return out;
  }

  /** A content script speaks for its page only while the tab holds a designated page. */
  function fromDesignated(sender) {
    const tab = sender.tab;
    return Boolean(tab) && sender.frameId === 0 && designated(tab) && lib.isDesignated(sender.url ?? tab.url, state.config);
  }

  function onPageMessage(msg, sender, sendResponse) {
    if (!msg || typeof msg !== "object" || sender.id !== api.runtime.id) return false;
    if (msg.kind === "page" && sender.tab) {
      void pageState(sender.tab).then((page) => {
        state.told.set(sender.tab.id, JSON.stringify(page));
        sendResponse(page);
      });
      return true;
    }
    if (!fromDesignated(sender)) return false;
    if (msg.kind === "viewport") {
      state.viewports.set(sender.tab.id, viewportOf(msg.viewport));
      void report();
    } else if (msg.kind === "route") {
      void api.tabs.get(sender.tab.id).then(tell).then(() => report()).catch(() => {});
    } else if (msg.kind === "target") {
      const target = targetOf(msg, sender);
      if (target) send(target);
    }
    return false;
  }

  api.windows.onFocusChanged.addListener((windowId) => {
    state.focusedWindowId = windowId;
    void report();
  });
  api.windows.onRemoved.addListener((windowId) => {
    if (state.lastWindow?.window_id === windowId) state.lastWindow = null;
    if (state.focusedWindowId === windowId) state.focusedWindowId = NONE;
    void report();
  });
  api.windows.onBoundsChanged?.addListener(() => void report());
  api.tabs.onActivated.addListener(() => void report());
  api.tabs.onUpdated.addListener((tabId, change, tab) => {
    if ("url" in change || "status" in change || "title" in change) void tell(tab);
    if (tab.active && tab.windowId === state.focusedWindowId) void report();
  });
  api.tabs.onRemoved.addListener((tabId) => {
    for (const map of [state.viewports, state.zooms, state.told]) map.delete(tabId);
  });
  api.tabs.onZoomChange?.addListener(({ tabId, newZoomFactor }) => {
    state.zooms.set(tabId, newZoomFactor);
    void api.tabs.get(tabId).then(tell).catch(() => {});
  });
  api.runtime.onMessage.addListener(onPageMessage);

  setInterval(() => void report(true), HEARTBEAT_MS);
  void api.windows.getLastFocused().then((win) => {
    if (win?.focused && state.focusedWindowId === NONE) state.focusedWindowId = win.id;
    return report();
  }).catch(() => {});
  connect();
})();
