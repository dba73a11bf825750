/**
 * The content script: silent on every page until the background says the page is a
 * designated site. Then it reports the element under each action, where the page is on the
 * screen, and, when asked, the visible text with its rectangles. Secret fields and masked
 * elements keep their place but never their content.
 */
"use strict";

(() => {
  if (globalThis.deskscribeContent) return;
  const api = globalThis.browser ?? globalThis.chrome;
  const lib = globalThis.deskscribeLib;
  const KEY_EVERY_MS = 500;
  const SCROLL_EVERY_MS = 250;
  const WATCH_MS = 1000;
  const SNAPSHOT_BUDGET_MS = 200;

  const page = {
    designated: false,
    masks: [],
    zoom: 1,
    screenUnits: "dip",
    watch: null,
    viewportKey: null,
    href: location.href,
    keyTarget: null,
    keySent: new WeakMap(),
    scrollSent: -Infinity,
  };
  globalThis.deskscribeContent = page;

  function post(message) {
    try {
      void api.runtime.sendMessage(message).catch(() => {});
    } catch {
      stop();
    }
  }

  const viewport = () => lib.viewportOnScreen(window, { zoom: page.zoom, screenUnits: page.screenUnits });

  /** Window moves fire no event in a page, and pushState none a content script can see. */
  function watch() {
    if (!page.designated) return;
    const vp = viewport();
    const key = JSON.stringify(vp);
    if (key !== page.viewportKey) {
      page.viewportKey = key;
      post({ kind: "viewport", viewport: vp });
    }
    if (location.href !== page.href) {
      page.href = location.href;
      post({ kind: "route" });
    }
  }

  function stop() {
    page.designated = false;
    clearInterval(page.watch);
    page.watch = null;
  }

  function apply(state) {
    if (!state || state.designated !== true) {
      stop();
      return;
    }
    page.masks = Array.isArray(state.masks) ? state.masks.filter((s) => typeof s === "string") : [];
    page.zoom = Number(state.zoom) > 0 ? Number(state.zoom) : 1;
    page.screenUnits = state.screenUnits === "css" ? "css" : "dip";
    page.designated = true;
    page.viewportKey = null;
    page.watch ??= setInterval(watch, WATCH_MS);
    watch();
  }

  function reportTarget(event, el, value) {
    if (!page.designated || !el || el.nodeType !== 1) return;
    const target = lib.describeTarget(el, viewport(), page.masks);
    const message = { kind: "target", event, t_ms: performance.timeOrigin + performance.now(), target };
    if (value !== undefined && !target.masked && target.sensitive === null) message.value = value;
    post(message);
  }

  const origin = (e) => e.composedPath()[0] ?? e.target;
  const listen = (type, handler, on = window) =>
    on.addEventListener(type, (e) => page.designated && e.isTrusted && handler(e), { capture: true, passive: true });

  listen("pointerdown", (e) => reportTarget("pointerdown", lib.actionTarget(origin(e))));
  listen("focusin", (e) => {
    page.keyTarget = null;
    reportTarget("focus", origin(e));
  });
  listen("keydown", (e) => {
    const el = lib.deepActive(document) ?? origin(e);
    const now = performance.now();
    const first = page.keyTarget !== el;
    page.keyTarget = el;
    if (!first && e.key !== "Tab" && e.key !== "Enter" && now - (page.keySent.get(el) ?? -Infinity) < KEY_EVERY_MS) return;
    page.keySent.set(el, now);
    reportTarget("keydown", el);
  });
  listen("change", (e) => {
    const el = origin(e);
    reportTarget("change", el, el?.localName === "select" ? lib.selectedText(el) : undefined);
  });
  listen("scroll", (e) => {
    const now = performance.now();
    if (now - page.scrollSent < SCROLL_EVERY_MS) return;
    page.scrollSent = now;
    const el = e.target === document ? (document.scrollingElement ?? document.documentElement) : e.target;
    reportTarget("scroll", el);
  });
  for (const type of ["resize", "popstate", "hashchange"]) listen(type, watch);
  if (window.visualViewport) {
    for (const type of ["resize", "scroll"]) listen(type, watch, window.visualViewport);
  }

  /** The page's text for one frame; a page that runs out of time says it is truncated and
   * the recorder reads the pixels instead. */
  function snapshot() {
    if (!page.designated) return { designated: false };
    const vp = viewport();
    const deadline = performance.now() + SNAPSHOT_BUDGET_MS;
    const text = lib.visibleText(document.documentElement, vp, page.masks, { now: () => performance.now(), deadline });
    return { viewport: vp, ...text };
  }

  api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    if (sender.id !== api.runtime.id || !msg || typeof msg !== "object") return false;
    if (msg.kind === "designate") apply(msg);
    else if (msg.kind === "snapshot") sendResponse(snapshot());
    return false;
  });

  try {
    void api.runtime.sendMessage({ kind: "page" }).then(apply, () => {});
  } catch {
    stop();
  }
})();
