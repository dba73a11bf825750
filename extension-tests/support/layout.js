"use strict";

/**
 * jsdom has no layout: this gives elements and text the boxes a test writes down. An
 * element's box is its `data-rect="x y w h"` (client CSS px, none: empty); text is set in
 * 10 px wide, 20 px high characters from its element's top left, on one line, or wrapped
 * before the character index the element's `data-wrap` names. A range over an element's
 * contents has the boxes of the elements inside it.
 */
const { JSDOM } = require("jsdom");

const CHAR_W = 10;
const LINE_H = 20;

const rect = (left, top, width, height) => ({ left, top, width, height, x: left, y: top, right: left + width, bottom: top + height });

function boxOf(el) {
  const [x, y, w, h] = (el.getAttribute("data-rect") ?? "0 0 0 0").split(/\s+/).map(Number);
  return rect(x, y, w, h);
}

function textRects(node, start, end) {
  const el = node.parentElement;
  if (!el?.hasAttribute("data-rect")) return [];
  const box = boxOf(el);
  const wrap = Number(el.getAttribute("data-wrap") ?? Infinity);
  const line = (from, to, row) => rect(box.left + from * CHAR_W, box.top + row * LINE_H, (to - from) * CHAR_W, LINE_H);
  if (end <= wrap) return [line(start, end, 0)];
  if (start >= wrap) return [line(start - wrap, end - wrap, 1)];
  return [line(start, wrap, 0), line(0, end - wrap, 1)];
}

/** A window on `html` with the fake layout installed; `runScripts: "outside-only"` lets a
 * test run the extension's scripts inside it. */
function page(html, { url = "https://crm.example.com/leads/4", runScripts } = {}) {
  const dom = new JSDOM(html, { url, pretendToBeVisual: true, runScripts });
  const { window } = dom;
  window.Element.prototype.getBoundingClientRect = function getBoundingClientRect() {
    return boxOf(this);
  };
  window.Range.prototype.getClientRects = function getClientRects() {
    const node = this.startContainer;
    if (node.nodeType === 3) return textRects(node, this.startOffset, this.endOffset);
    return [...node.querySelectorAll("[data-rect]")].map(boxOf);
  };
  return window;
}

/** A viewport 1280x800 CSS px at (100, 150) on the screen, one device pixel per CSS pixel. */
const VIEWPORT_WINDOW = {
  screenX: 100, screenY: 50, outerWidth: 1280, outerHeight: 900, innerWidth: 1280, innerHeight: 800, devicePixelRatio: 1,
};

module.exports = { page, VIEWPORT_WINDOW, CHAR_W, LINE_H };
