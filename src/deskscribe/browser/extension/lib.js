/**
 * deskscribe's logic with no browser state of its own, as one object `deskscribeLib` shared
 * by the background, the content script and the Node tests: site globs, the config, stored
 * URLs, screen geometry and the message size cap here; reading a page's DOM in page.js,
 * which adds its functions to the same object. The URL glob rules are the ones of
 * deskscribe/sites.py: the recorder checks every URL again with them, so the two must agree
 * case for case.
 */
"use strict";

(() => {
  const PROTOCOL = 1;
  const DEFAULT_PORTS = { "http:": 80, "https:": 443 };
  const GLOB = /^(\*|https?):\/\/(\*|(?:\*\.)?[A-Za-z0-9.-]+)(?::(\d{1,5}))?(\/.*)?$/;
  const MAX_MESSAGE_BYTES = 1024 * 1024;
  const globCache = new Map();

  /** A glob parsed once; null when it is not one (then it matches nothing). */
  function parseGlob(glob) {
    if (typeof glob !== "string") return null;
    if (globCache.has(glob)) return globCache.get(glob);
    const m = GLOB.exec(glob.trim());
    let parsed = null;
    if (m) {
      const path = (m[4] ?? "/*").split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
      parsed = {
        scheme: m[1],
        host: m[2].toLowerCase().replace(/\.+$/, ""),
        port: m[3] ? Number(m[3]) : null,
        path: new RegExp(`^${path.join("[\\s\\S]*")}$`),
      };
    }
    if (globCache.size > 512) globCache.clear();
    globCache.set(glob, parsed);
    return parsed;
  }

  function hostMatches(host, pattern) {
    if (pattern === "*") return true;
    if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
    return host === pattern;
  }

  /** Scheme, host and port must match exactly (no port: the default one); the path is a
   * glob where `*` crosses `/`; query, fragment and user info never take part. */
  function urlMatches(url, glob) {
    const g = parseGlob(glob);
    let u;
    try {
      u = new URL(url);
    } catch {
      return false;
    }
    const scheme = u.protocol.toLowerCase();
    const host = u.hostname.toLowerCase().replace(/\.+$/, "");
    if (!g || !(scheme in DEFAULT_PORTS) || !host) return false;
    if (g.scheme !== "*" && `${g.scheme}:` !== scheme) return false;
    const fallback = DEFAULT_PORTS[scheme];
    if ((Number(u.port) || fallback) !== (g.port || fallback)) return false;
    return hostMatches(host, g.host) && g.path.test(u.pathname || "/");
  }

  const matchesAny = (url, globs) => globs.some((g) => urlMatches(url, g));

  /** Designated only by the policy the recorder sent; before one arrives, nothing is. */
  function isDesignated(url, config) {
    if (!config || typeof url !== "string" || !/^https?:\/\//i.test(url)) return false;
    return matchesAny(url, config.designated_sites) && !matchesAny(url, config.excluded_urls);
  }

  /** Query and fragment carry search terms, tokens and record ids; user info never leaves. */
  function stripUrl(url, keepQuery) {
    let u;
    try {
      u = new URL(url);
    } catch {
      return "";
    }
    u.username = "";
    u.password = "";
    if (!keepQuery) {
      u.search = "";
      u.hash = "";
    }
    return u.href;
  }

  const isStringList = (v) => Array.isArray(v) && v.every((s) => typeof s === "string");
  const areGlobs = (v) => isStringList(v) && v.every((g) => parseGlob(g) !== null);

  /** A config the extension can act on, or null: a malformed policy must not designate
   * anything, and an unreadable exclusion must not be skipped silently. */
  function validateConfig(obj) {
    if (!obj || typeof obj !== "object" || obj.v !== PROTOCOL || obj.type !== "config") return null;
    if (obj.protocol !== undefined && obj.protocol !== PROTOCOL) return null;
    const keep = obj.keep_url_query ?? false;
    const sites = obj.designated_sites;
    const excluded = obj.excluded_urls ?? [];
    const masks = obj.site_masks ?? [];
    if (!areGlobs(sites) || !areGlobs(excluded) || typeof keep !== "boolean" || !Array.isArray(masks)) return null;
    const siteMasks = [];
    for (const m of masks) {
      if (!m || typeof m !== "object" || parseGlob(m.url) === null || !isStringList(m.selectors)) return null;
      siteMasks.push(Object.freeze({ url: m.url, selectors: Object.freeze([...m.selectors]) }));
    }
    return Object.freeze({
      designated_sites: Object.freeze([...sites]),
      excluded_urls: Object.freeze([...excluded]),
      keep_url_query: keep,
      site_masks: Object.freeze(siteMasks),
    });
  }

  /** The policy's mask selectors for one page. */
  function masksFor(url, config) {
    if (!config) return [];
    return config.site_masks.filter((m) => urlMatches(url, m.url)).flatMap((m) => m.selectors);
  }

  const collapse = (s) => (s ?? "").replace(/\s+/g, " ").trim();
  /** Where the page's client area is on the screen, in device pixels, and how many device
   * pixels one CSS pixel of a client rectangle takes. Chromium measures screenX, screenY,
   * outerWidth and outerHeight in screen units (DIPs) that page zoom does not change; Firefox
   * measures them in CSS pixels of the page's own zoom. See PROTOCOL.md for the formula. */
  function viewportOnScreen(win, { zoom = 1, screenUnits = "dip" } = {}) {
    const vv = win.visualViewport;
    const raw = {
      screenX: win.screenX, screenY: win.screenY, outerWidth: win.outerWidth, outerHeight: win.outerHeight,
      innerWidth: win.innerWidth, innerHeight: win.innerHeight, devicePixelRatio: win.devicePixelRatio,
      vvOffsetLeft: vv?.offsetLeft ?? 0, vvOffsetTop: vv?.offsetTop ?? 0, vvScale: vv?.scale ?? 1,
      zoom, screenUnits,
    };
    const dpr = Number(raw.devicePixelRatio) || 1;
    const unitsPerCss = screenUnits === "css" ? 1 : zoom || 1;
    const devicePerUnit = dpr / unitsPerCss;
    // A browser that draws its own window frame (Chromium without the window manager's
    // decorations) puts an equal border left, right and below the page.
    const border = Math.max(0, (raw.outerWidth - raw.innerWidth * unitsPerCss) / 2);
    const top = raw.screenY + raw.outerHeight - raw.innerHeight * unitsPerCss - border;
    return {
      x: (raw.screenX + border) * devicePerUnit,
      y: top * devicePerUnit,
      width: raw.innerWidth * dpr,
      height: raw.innerHeight * dpr,
      dpr,
      zoom: zoom || 1,
      scale: dpr * raw.vvScale,
      raw,
    };
  }

  const round2 = (n) => Math.round(n * 100) / 100;

  /** A client rectangle (CSS px of the layout viewport) as [x, y, w, h] on the screen. */
  function toScreen(rect, vp) {
    return [
      round2(vp.x + (rect.left - vp.raw.vvOffsetLeft) * vp.scale),
      round2(vp.y + (rect.top - vp.raw.vvOffsetTop) * vp.scale),
      round2(rect.width * vp.scale),
      round2(rect.height * vp.scale),
    ];
  }

  /** The part of a client rectangle inside the visual viewport, or null when none is. */
  function clip(rect, vp) {
    const left = Math.max(rect.left, vp.raw.vvOffsetLeft);
    const top = Math.max(rect.top, vp.raw.vvOffsetTop);
    const right = Math.min(rect.left + rect.width, vp.raw.vvOffsetLeft + vp.width / vp.scale);
    const bottom = Math.min(rect.top + rect.height, vp.raw.vvOffsetTop + vp.height / vp.scale);
    return right > left && bottom > top ? { left, top, width: right - left, height: bottom - top } : null;
  }

  const UTF8 = new TextEncoder();
  const byteSize = (msg) => UTF8.encode(JSON.stringify(msg)).length;

  /** The native host drops anything over 1 MiB; a text reply gives up runs from the end
   * (and says so) rather than vanish, anything else is not sent at all (null). */
  function fitMessage(msg, limit = MAX_MESSAGE_BYTES) {
    if (byteSize(msg) <= limit) return msg;
    if (msg.type !== "text" || !Array.isArray(msg.runs)) return null;
    let runs = msg.runs;
    let fitted = { ...msg, runs, truncated: true };
    while (runs.length > 0 && byteSize(fitted) > limit) {
      runs = runs.slice(0, Math.floor(runs.length / 2));
      fitted = { ...msg, runs, truncated: true };
    }
    return byteSize(fitted) <= limit ? fitted : null;
  }

  const lib = {
    PROTOCOL, MAX_MESSAGE_BYTES, urlMatches, isDesignated, stripUrl, validateConfig, masksFor,
    viewportOnScreen, toScreen, clip, fitMessage, byteSize, collapse,
  };
  globalThis.deskscribeLib = lib;
  if (typeof module === "object" && module.exports) {
    module.exports = lib;
    require("./page.js");
  }
})();
