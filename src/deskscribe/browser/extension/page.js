/**
 * Reading a designated page's DOM: what an element is called and how to find it again,
 * whether it holds a secret or is masked, and the visible text with screen rectangles. Adds
 * its functions to `deskscribeLib` (lib.js, loaded first).
 */
"use strict";

(() => {
  const lib = globalThis.deskscribeLib ?? require("./lib.js");
  const { collapse, toScreen, clip } = lib;
  const MAX_NAME = 200;
  const BUILTIN_MASKS = ['[data-deskscribe="mask"]', ".rr-block", ".ph-no-capture"];
  const capName = (s) => collapse(s).slice(0, MAX_NAME);

  const NOT_NAME = "select, textarea, datalist, script, style, noscript, template";

  /** The text inside `el` that may name it: never a masked descendant's, nor the options of
   * a select inside a label (a select's options are not its name). */
  function contentText(el, selectors) {
    const parts = [];
    const walker = el.ownerDocument.createTreeWalker(el, 4);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const parent = n.parentElement;
      if (parent !== el && parent.closest(NOT_NAME)) continue;
      if (!selectors.some((sel) => parent.closest(sel))) parts.push(n.data);
    }
    return parts.join("");
  }

  const NAME_FROM_CONTENT = new Set([
    "button", "link", "heading", "option", "menuitem", "menuitemcheckbox", "menuitemradio", "tab",
    "cell", "columnheader", "rowheader", "row", "treeitem", "checkbox", "radio", "switch", "tooltip",
  ]);
  const LABELABLE = new Set(["input", "select", "textarea", "button", "meter", "output", "progress"]);
  const BUTTON_INPUTS = new Set(["button", "submit", "reset"]);

  /** What a screen reader would announce, close enough to name the element in a dataset;
   * text from masked elements never takes part. */
  function accessibleName(el, maskSelectors = []) {
    const doc = el.ownerDocument;
    const tag = el.localName;
    const selectors = maskSelectorsOf(doc, maskSelectors);
    const textOf = (node) => (node ? contentText(node, selectors) : "");
    const labelledby = collapse(el.getAttribute("aria-labelledby"));
    if (labelledby) {
      const text = labelledby.split(" ").map((id) => textOf(doc.getElementById(id))).join(" ");
      if (collapse(text)) return capName(text);
    }
    if (collapse(el.getAttribute("aria-label"))) return capName(el.getAttribute("aria-label"));
    if (LABELABLE.has(tag)) {
      const labels = el.id ? [...doc.querySelectorAll("label[for]")].filter((l) => l.htmlFor === el.id) : [];
      const wrapping = el.parentElement?.closest("label");
      if (wrapping && !wrapping.htmlFor) labels.push(wrapping);
      const text = labels.map(textOf).join(" ");
      if (collapse(text)) return capName(text);
    }
    const type = (el.getAttribute("type") ?? "").toLowerCase();
    if ((tag === "img" || tag === "area" || (tag === "input" && type === "image")) && collapse(el.getAttribute("alt"))) {
      return capName(el.getAttribute("alt"));
    }
    if (tag === "input" && BUTTON_INPUTS.has(type) && collapse(el.value)) return capName(el.value);
    if (NAME_FROM_CONTENT.has(role(el)) || tag === "summary" || tag === "legend" || tag === "label") {
      const text = textOf(el);
      if (collapse(text)) return capName(text);
    }
    for (const attr of ["title", "placeholder"]) {
      if (collapse(el.getAttribute(attr))) return capName(el.getAttribute(attr));
    }
    return "";
  }

  const INPUT_ROLES = {
    button: "button", submit: "button", reset: "button", image: "button", checkbox: "checkbox",
    radio: "radio", range: "slider", number: "spinbutton", search: "searchbox", email: "textbox",
    tel: "textbox", text: "textbox", url: "textbox", password: "textbox", "": "textbox",
  };
  const TAG_ROLES = {
    button: "button", textarea: "textbox", option: "option", h1: "heading", h2: "heading",
    h3: "heading", h4: "heading", h5: "heading", h6: "heading", ul: "list", ol: "list",
    li: "listitem", table: "table", tr: "row", td: "cell", th: "columnheader", nav: "navigation",
    main: "main", form: "form", dialog: "dialog", progress: "progressbar", aside: "complementary",
    article: "article", fieldset: "group", hr: "separator", output: "status", summary: "button",
    menu: "list", meter: "meter", datalist: "listbox", optgroup: "group", tbody: "rowgroup",
    thead: "rowgroup", tfoot: "rowgroup",
  };

  /** The explicit ARIA role, or the implicit one of the common tags and input types. */
  function role(el) {
    const explicit = collapse(el.getAttribute("role")).toLowerCase().split(" ")[0];
    if (explicit) return explicit;
    const tag = el.localName;
    if ((tag === "a" || tag === "area") && el.hasAttribute("href")) return "link";
    if (tag === "img") return el.getAttribute("alt") === "" ? "presentation" : "img";
    if (tag === "select") return el.multiple || el.size > 1 ? "listbox" : "combobox";
    if (tag === "input") {
      const type = (el.getAttribute("type") ?? "").toLowerCase();
      const r = Object.hasOwn(INPUT_ROLES, type) ? INPUT_ROLES[type] : null;
      return el.hasAttribute("list") && (r === "textbox" || r === "searchbox") ? "combobox" : r;
    }
    if (tag === "section" && (el.hasAttribute("aria-label") || el.hasAttribute("aria-labelledby"))) return "region";
    return Object.hasOwn(TAG_ROLES, tag) ? TAG_ROLES[tag] : null;
  }

  /** CSS.escape, which jsdom and some content-script worlds lack. */
  function cssIdent(s) {
    return [...s].map((ch, i) => {
      const c = ch.codePointAt(0);
      if (c === 0) return "\uFFFD";
      if ((c >= 1 && c <= 0x1f) || c === 0x7f || (/\d/.test(ch) && (i === 0 || (i === 1 && s[0] === "-")))) {
        return `\\${c.toString(16)} `;
      }
      if (i === 0 && ch === "-" && s.length === 1) return "\\-";
      return /[\w\u0080-\u{10FFFF}-]/u.test(ch) ? ch : `\\${ch}`;
    }).join("");
  }

  const cssString = (s) => `"${s.replace(/["\\]/g, "\\$&").replace(/[\n\r\f]/g, (c) => `\\${c.charCodeAt(0).toString(16)} `)}"`;

  /** Ids frameworks make up per render change between sessions and name nothing. */
  const generatedId = (id) =>
    /\d{3,}|:|^[-_\d]|[0-9a-f]{8,}/i.test(id) || /(?=.*\d)(?=.*[a-z])[a-z\d]{10,}/i.test(id) ||
    /^(ember|react|radix|headlessui|mui|ext-gen|yui|gwt|ng-)/i.test(id);

  function unique(scope, selector) {
    try {
      return scope.querySelectorAll(selector).length === 1;
    } catch {
      return false;
    }
  }

  const usableId = (el, scope) => el.id && !generatedId(el.id) && unique(scope, `#${cssIdent(el.id)}`);

  /** A selector that finds the element again in a replay: a meaningful id or attribute when
   * one is unique, else a position below the nearest element that has one. */
  function stableSelector(el) {
    const scope = el.getRootNode();
    if (typeof scope.querySelectorAll !== "function") return null;
    if (usableId(el, scope)) return `#${cssIdent(el.id)}`;
    for (const attr of ["name", "data-testid", "aria-label"]) {
      const value = el.getAttribute(attr);
      const selector = value ? `${el.localName}[${attr}=${cssString(value)}]` : null;
      if (selector && unique(scope, selector)) return selector;
    }
    const steps = [];
    let node = el;
    while (node && node.nodeType === 1 && node.localName !== "html" && !usableId(node, scope)) {
      let n = 1;
      for (let s = node.previousElementSibling; s; s = s.previousElementSibling) n += s.localName === node.localName ? 1 : 0;
      steps.unshift(`${cssIdent(node.localName)}:nth-of-type(${n})`);
      node = node.parentElement;
    }
    const root = node?.nodeType === 1 && node.localName !== "html" ? `#${cssIdent(node.id)}` : "html";
    const selector = [root, ...steps].join(" > ");
    return selector.length <= 512 && unique(scope, selector) ? selector : null;
  }

  const AUTOCOMPLETE_KINDS = {
    "current-password": "password", "new-password": "password", "one-time-code": "otp",
    "cc-number": "cc-number", "cc-csc": "cc-csc",
  };

  /** Fields whose value is a secret: their values never leave the page, their focus is noted. */
  function sensitiveKind(el) {
    if (!el || el.nodeType !== 1) return null;
    if (el.localName === "input" && (el.getAttribute("type") ?? "").toLowerCase() === "password") return "password";
    for (const token of collapse(el.getAttribute("autocomplete")).toLowerCase().split(" ")) {
      if (Object.hasOwn(AUTOCOMPLETE_KINDS, token)) return AUTOCOMPLETE_KINDS[token];
    }
    return null;
  }

  /** The site's selectors that a browser accepts, plus the built-in ones; a broken policy
   * selector is dropped rather than breaking every mask. */
  function maskSelectorsOf(doc, maskSelectors) {
    const probe = doc.createDocumentFragment();
    return [...BUILTIN_MASKS, ...(maskSelectors ?? [])].filter((sel) => {
      try {
        probe.querySelector(sel);
        return typeof sel === "string" && sel.trim() !== "";
      } catch {
        return false;
      }
    });
  }

  const matchesOne = (el, selectors) => selectors.some((sel) => el.matches(sel));

  function isMasked(el, maskSelectors) {
    const element = el?.nodeType === 1 ? el : el?.parentElement;
    if (!element) return false;
    const selectors = maskSelectorsOf(element.ownerDocument, maskSelectors);
    return selectors.some((sel) => element.closest(sel) !== null);
  }

  const MAX_CHARS = 20000;
  const MAX_WORDS = 5000;
  const MAX_RECTS = 5000;
  const SKIP_TAGS = new Set(["script", "style", "noscript", "template", "head", "datalist"]);
  const OPAQUE_TAGS = new Set(["img", "canvas", "video", "svg", "iframe", "frame", "embed", "object"]);
  const NO_VALUE_INPUTS = new Set(["hidden", "password", "checkbox", "radio", "range", "color", "file", "image"]);
  const codePoints = (s) => s.length - (s.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
  const inline = (display) => display === "" || /^(inline|contents|ruby)/.test(display);

  /** What a form control shows as text: its value, a button's label, a select's choice. */
  function controlText(el) {
    const tag = el.localName;
    if (tag === "select") return [...el.selectedOptions].map((o) => o.text).join(", ");
    if (tag === "textarea") return el.value || el.placeholder;
    const type = (el.getAttribute("type") ?? "").toLowerCase();
    if (NO_VALUE_INPUTS.has(type)) return "";
    return BUTTON_INPUTS.has(type) ? el.value : el.value || el.placeholder;
  }

  function childrenOf(el) {
    if (el.shadowRoot) return el.shadowRoot.childNodes;
    if (el.localName === "slot" && typeof el.assignedNodes === "function") {
      const assigned = el.assignedNodes({ flatten: true });
      if (assigned.length) return assigned;
    }
    return el.childNodes;
  }

  /** The page's visible text as runs with a screen rectangle per word, plus the rectangles
   * of masked elements and of content only pixels can show (images, canvas, frames). Text is
   * grouped by block so the recorder's detectors read `jane<b>@</b>example.com` as one
   * address; a run or rectangle that does not fit the caps sets `truncated` and OCR takes
   * over. Errs towards reporting text that may be hidden: a word too many only redacts more. */
  function visibleText(root, vp, maskSelectors, { now = () => 0, deadline = Infinity } = {}) {
    const doc = root.ownerDocument ?? root;
    const win = doc.defaultView;
    const selectors = maskSelectorsOf(doc, maskSelectors);
    const range = doc.createRange();
    const out = { runs: [], masks: [], opaque: [], truncated: false };
    let chars = 0;
    let words = 0;
    let run = null;

    const flush = () => {
      if (run?.words.length) {
        out.runs.push({ text: run.text, words: run.words });
        chars += run.text.length + 1;
        words += run.words.length;
      }
      run = null;
    };
    const fits = (text, rects) =>
      chars + (run?.text.length ?? 0) + text.length <= MAX_CHARS && words + (run?.words.length ?? 0) + rects <= MAX_WORDS;
    const append = (block, text, rects) => {
      if (!run || run.block !== block) {
        flush();
        run = { block, text: "", length: 0, words: [], space: false };
      }
      const piece = (run.text && run.space ? " " : "") + text;
      if (!fits(piece, rects.length)) {
        out.truncated = true;
        return;
      }
      const start = run.length + codePoints(piece) - codePoints(text);
      run.text += piece;
      run.length = start + codePoints(text);
      run.space = false;
      for (const r of rects) run.words.push([start, run.length, ...toScreen(r, vp)]);
    };
    const rectOf = (el) => clip(el.getBoundingClientRect(), vp);
    const onScreen = (r) => (r ? toScreen(r, vp) : null);
    /* A mask covers everything drawn from inside the element too: content overflowing its
       box, or the children of a `display: contents` element that has no box at all. */
    const maskOf = (el) => {
      range.selectNodeContents(el);
      const boxes = [el.getBoundingClientRect(), ...range.getClientRects()].map((r) => onScreen(clip(r, vp))).filter(Boolean);
      return boxes.length ? boxes.reduce(union) : null;
    };
    const addRect = (list, rect, merge) => {
      if (!rect) return;
      if (list.length < MAX_RECTS) list.push(rect);
      else if (merge) list[list.length - 1] = union(list[list.length - 1], rect);
      else out.truncated = true;
    };
    const addWords = (node, block, hidden) => {
      const re = /\S+/g;
      let m;
      let end = 0;
      while ((m = re.exec(node.data)) && !out.truncated) {
        if (m.index > end && run) run.space = true;
        end = m.index + m[0].length;
        range.setStart(node, m.index);
        range.setEnd(node, end);
        const rects = hidden ? [] : [...range.getClientRects()].map((r) => clip(r, vp)).filter(Boolean);
        if (rects.length) append(block, m[0], rects);
        else if (run) run.space = true;
      }
      if (end < node.data.length && run) run.space = true;
    };

    const stack = [[root, root, false]];
    while (stack.length && !out.truncated) {
      if (now() > deadline) {
        out.truncated = true;
        break;
      }
      const [node, block, hidden] = stack.pop();
      if (node.nodeType === 3) {
        if (!run || run.block !== block) flush();
        addWords(node, block, hidden);
        continue;
      }
      if (node.nodeType !== 1 || SKIP_TAGS.has(node.localName)) continue;
      const el = node;
      if (el.localName === "br") {
        if (run) run.space = true;
        continue;
      }
      const style = win.getComputedStyle(el);
      if (style.display === "none") continue;
      if (matchesOne(el, selectors) || sensitiveKind(el)) {
        addRect(out.masks, maskOf(el), true);
        continue;
      }
      const type = (el.getAttribute("type") ?? "").toLowerCase();
      if (OPAQUE_TAGS.has(el.localName) || (el.localName === "input" && type === "image")) {
        addRect(out.opaque, onScreen(rectOf(el)), false);
        continue;
      }
      const isHidden = style.visibility === "hidden" || style.visibility === "collapse";
      if (style.backgroundImage && style.backgroundImage !== "none" && !isHidden) addRect(out.opaque, onScreen(rectOf(el)), false);
      if (["input", "textarea", "select"].includes(el.localName)) {
        const text = collapse(controlText(el));
        const r = isHidden ? null : rectOf(el);
        flush();
        if (text && r) append(el, text, [r]);
        flush();
        continue;
      }
      const children = [...childrenOf(el)];
      const inner = inline(style.display) ? block : el;
      for (let i = children.length - 1; i >= 0; i--) stack.push([children[i], inner, isHidden]);
    }
    flush();
    return out;
  }

  function union(a, b) {
    const x = Math.min(a[0], b[0]);
    const y = Math.min(a[1], b[1]);
    return [x, y, Math.max(a[0] + a[2], b[0] + b[2]) - x, Math.max(a[1] + a[3], b[1] + b[3]) - y];
  }

  const INTERACTIVE = [
    "a[href]", "button", "input", "select", "textarea", "label", "summary", "option", "[contenteditable]",
    ...["button", "link", "checkbox", "radio", "switch", "tab", "menuitem", "menuitemcheckbox",
      "menuitemradio", "option", "textbox", "searchbox", "combobox", "slider", "spinbutton", "treeitem",
      "gridcell"].map((r) => `[role="${r}"]`),
  ].join(", ");

  /** The control a pointer down acts on: the button around the icon that was hit. */
  function actionTarget(el) {
    const element = el?.nodeType === 1 ? el : el?.parentElement;
    return element ? (element.closest(INTERACTIVE) ?? element) : null;
  }

  function deepActive(doc) {
    let active = doc.activeElement;
    while (active?.shadowRoot?.activeElement) active = active.shadowRoot.activeElement;
    return active;
  }

  const ariaTrue = (el, attr) => el.getAttribute(attr) === "true";
  const matchesSafe = (el, sel) => {
    try {
      return el.matches(sel);
    } catch {
      return false;
    }
  };

  function states(el) {
    const out = [];
    if (deepActive(el.ownerDocument) === el) out.push("focused");
    if (el.checked === true || ariaTrue(el, "aria-checked")) out.push("checked");
    if ((el.localName === "option" && el.selected) || ariaTrue(el, "aria-selected")) out.push("selected");
    if (ariaTrue(el, "aria-expanded") || (el.localName === "details" && el.open)) out.push("expanded");
    if (matchesSafe(el, ":disabled") || ariaTrue(el, "aria-disabled")) out.push("disabled");
    return out;
  }

  /** The element an action touched, as a `target` report carries it; a masked element keeps
   * its place and kind but loses its name. */
  function describeTarget(el, vp, maskSelectors) {
    const masked = isMasked(el, maskSelectors);
    const tag = el.localName;
    const box = el.getBoundingClientRect();
    const autocomplete = el.getAttribute("autocomplete");
    return {
      tag,
      role: role(el),
      name: masked ? "" : accessibleName(el, maskSelectors),
      type: tag === "input" || tag === "button" ? String(el.type).toLowerCase() : null,
      autocomplete: autocomplete === null ? null : collapse(autocomplete).slice(0, 64),
      bbox: toScreen(box, vp),
      selector: stableSelector(el),
      sensitive: sensitiveKind(el),
      masked,
      states: states(el),
    };
  }

  /** A select's choice as the user read it: the option's text, never its value attribute. */
  const selectedText = (el) => [...el.selectedOptions].map((o) => collapse(o.text)).join(", ").slice(0, MAX_NAME);

  Object.assign(lib, {
    accessibleName, role, stableSelector, sensitiveKind, isMasked, visibleText, actionTarget, describeTarget,
    selectedText, deepActive,
  });
})();
