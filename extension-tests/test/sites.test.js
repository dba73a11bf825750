"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { lib } = require("../support/extension.js");
const cases = require("../glob-cases.json");

const config = (over = {}) => lib.validateConfig({
  v: 1, type: "config", protocol: 1, designated_sites: ["https://*.example.com/*", "http://127.0.0.1:8001/*"],
  excluded_urls: ["https://*.example.com/admin/*"], keep_url_query: false,
  site_masks: [{ url: "https://crm.example.com/*", selectors: [".ssn", "#notes"] }], ...over,
});

test("every shared glob case matches as deskscribe/sites.py does", () => {
  assert.ok(cases.length >= 30);
  for (const c of cases) {
    assert.equal(lib.urlMatches(c.url, c.glob), c.match, `${c.glob} vs ${c.url}`);
  }
});

test("the hostile URLs never match a subdomain glob", () => {
  const glob = "https://*.example.com/*";
  for (const url of [
    "https://example.com.evil.net/", "https://evilexample.com/", "https://evil.net/?u=https://x.example.com/",
    "https://x.example.com@evil.net/", "https://evil.net/#x.example.com", "https://example.com/",
    "http://x.example.com/", "https://x.example.com:8443/", "data:text/html,x.example.com", "not a url", "",
  ]) {
    assert.equal(lib.urlMatches(url, glob), false, url);
  }
});

test("a malformed glob matches nothing, even a catch-all looking one", () => {
  for (const glob of ["example.com", "https://", "https://exa mple.com/", "file:///etc/*", "", "HTTPS://a.com/*", null, 42]) {
    assert.equal(lib.urlMatches("https://a.com/", glob), false, String(glob));
  }
});

test("designated means one designated glob and no excluded one, for http(s) only", () => {
  const c = config();
  assert.equal(lib.isDesignated("https://crm.example.com/leads/4", c), true);
  assert.equal(lib.isDesignated("https://crm.example.com/admin/users", c), false);
  assert.equal(lib.isDesignated("http://127.0.0.1:8001/login/", c), true);
  assert.equal(lib.isDesignated("https://evil.net/", c), false);
  const everything = config({ designated_sites: ["*://*/*"], excluded_urls: [] });
  for (const url of ["file:///tmp/x.html", "chrome://settings/", "about:blank", "view-source:https://a.example.com/"]) {
    assert.equal(lib.isDesignated(url, everything), false, url);
  }
});

test("before a config arrives nothing is designated", () => {
  assert.equal(lib.isDesignated("https://crm.example.com/", null), false);
  assert.deepEqual(lib.masksFor("https://crm.example.com/", null), []);
});

test("stored URLs lose query, fragment and user info unless the policy keeps the query", () => {
  const url = "https://u:p@crm.example.com:8443/x/y?token=abc#frag";
  assert.equal(lib.stripUrl(url, false), "https://crm.example.com:8443/x/y");
  assert.equal(lib.stripUrl(url, true), "https://crm.example.com:8443/x/y?token=abc#frag");
  assert.equal(lib.stripUrl("https://a.example.com/?q=1", false), "https://a.example.com/");
  assert.equal(lib.stripUrl("https://a.example.com:bad/", false), "");
});

test("a valid config is normalised and frozen", () => {
  const c = lib.validateConfig({ v: 1, type: "config", designated_sites: ["https://a.example.com/*"] });
  assert.deepEqual({ ...c }, {
    designated_sites: ["https://a.example.com/*"], excluded_urls: [], keep_url_query: false, site_masks: [],
  });
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.designated_sites));
});

test("a malformed config is refused whole", () => {
  const good = { v: 1, type: "config", protocol: 1, designated_sites: ["https://a.example.com/*"], excluded_urls: [] };
  const bad = [
    null, "config", [], { ...good, v: 2 }, { ...good, type: "snapshot" }, { ...good, protocol: 2 },
    { ...good, designated_sites: "https://a.example.com/*" }, { ...good, designated_sites: [1] },
    { ...good, designated_sites: ["a.example.com"] }, { ...good, excluded_urls: ["not a glob"] },
    { ...good, keep_url_query: "yes" }, { ...good, site_masks: {} }, { ...good, site_masks: [{ url: "x", selectors: [] }] },
    { ...good, site_masks: [{ url: "https://a.example.com/*", selectors: "#x" }] }, { ...good, designated_sites: undefined },
  ];
  for (const b of bad) assert.equal(lib.validateConfig(b), null, JSON.stringify(b));
});

test("a page gets the mask selectors of every site mask that matches it", () => {
  const c = config();
  assert.deepEqual(lib.masksFor("https://crm.example.com/a", c), [".ssn", "#notes"]);
  assert.deepEqual(lib.masksFor("https://mail.example.com/a", c), []);
});

test("no message over 1 MiB leaves: a text reply drops runs and says it is truncated", () => {
  const runs = Array.from({ length: 400 }, (_, i) => ({ text: "x".repeat(4000), words: [[0, 4000, i, 0, 10, 10]] }));
  const msg = { v: 1, type: "text", request: 1, runs, masks: [], opaque: [], truncated: false };
  const fitted = lib.fitMessage(msg);
  assert.ok(lib.byteSize(fitted) <= lib.MAX_MESSAGE_BYTES);
  assert.equal(fitted.truncated, true);
  assert.ok(fitted.runs.length > 0 && fitted.runs.length < runs.length);
  const small = { v: 1, type: "text", request: 2, runs: runs.slice(0, 2), masks: [], opaque: [], truncated: false };
  assert.equal(lib.fitMessage(small), small);
  assert.equal(lib.fitMessage({ v: 1, type: "window", title: "é".repeat(600000) }), null);
});
