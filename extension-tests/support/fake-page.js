"use strict";

/**
 * A designated (or not) page with the content script running in it, talking to a fake
 * background. Events a user makes are fired the way jsdom fires its own, trusted ones; a
 * page script's dispatchEvent stays untrusted.
 */
const { source } = require("./extension.js");
const { page: layoutPage } = require("./layout.js");
const { fireAnEvent: fireImpl } = require("jsdom/lib/jsdom/living/helpers/events.js");
const { implForWrapper } = require("jsdom/lib/jsdom/living/generated/utils.js");
const MouseEventWrapper = require("jsdom/lib/jsdom/living/generated/MouseEvent.js");
const KeyboardEventWrapper = require("jsdom/lib/jsdom/living/generated/KeyboardEvent.js");
const EventWrapper = require("jsdom/lib/jsdom/living/generated/Event.js");

const fireAnEvent = (type, el, Interface, init) => fireImpl(type, implForWrapper(el), Interface, init);
const SCREEN = { screenX: 100, screenY: 50, outerWidth: 1280, outerHeight: 900, innerWidth: 1280, innerHeight: 800, devicePixelRatio: 1 };

function contentPage(html, { state = { kind: "designate", designated: false } } = {}) {
  const window = layoutPage(html, { runScripts: "outside-only" });
  for (const [k, v] of Object.entries(SCREEN)) Object.defineProperty(window, k, { value: v, configurable: true });
  window.TextEncoder = TextEncoder; // every browser has it; jsdom does not
  const sent = [];
  const listeners = [];
  window.chrome = {
    runtime: {
      id: "deskscribe-test",
      sendMessage: (message) => {
        sent.push(JSON.parse(JSON.stringify(message)));
        return Promise.resolve(message.kind === "page" ? state : undefined);
      },
      onMessage: { addListener: (fn) => listeners.push(fn) },
    },
  };
  for (const file of ["lib.js", "page.js", "content.js"]) window.eval(source(file));
  return {
    window,
    document: window.document,
    sent,
    targets: () => sent.filter((m) => m.kind === "target"),
    /** A message from the background; resolves with the content script's answer. */
    tell(message) {
      let answer;
      for (const fn of listeners) fn(JSON.parse(JSON.stringify(message)), { id: "deskscribe-test" }, (r) => { answer = r; });
      return answer === undefined ? undefined : JSON.parse(JSON.stringify(answer));
    },
    pointerdown: (el) => fireAnEvent("pointerdown", el, MouseEventWrapper, { bubbles: true, composed: true }),
    keydown: (el, key) => fireAnEvent("keydown", el, KeyboardEventWrapper, { bubbles: true, composed: true, key }),
    change: (el) => fireAnEvent("change", el, EventWrapper, { bubbles: true }),
    close: () => window.close(),
  };
}

/** Lets the content script's promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

module.exports = { contentPage, settle };
