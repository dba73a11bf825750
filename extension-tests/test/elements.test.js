"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { lib } = require("../support/extension.js");
const { page, VIEWPORT_WINDOW } = require("../support/layout.js");

const FORM = `
  <h2 id="title">  Sign
     in </h2>
  <form id="login">
    <label for="id_username">Username</label><input id="id_username" name="username">
    <label>Password <input type="password" name="password" autocomplete="current-password"></label>
    <span id="otp-label">One-time code</span><input aria-labelledby="otp-label" autocomplete="one-time-code">
    <input aria-label="Search the site" type="search">
    <input placeholder="Your email" type="email">
    <input title="Phone" type="tel" placeholder="555">
    <input type="submit" value="Log in">
    <input type="checkbox" checked disabled id="remember"> <label for="remember">Remember me</label>
    <input type="image" alt="Go">
    <label>Country <select name="country"><option value="fr">France</option><option value="de" selected>Germany</option></select></label>
    <button type="button"><span class="icon">★</span> Save   draft</button>
    <a href="/help" id="help-1234">Help</a>
    <img src="x.png" alt="Company logo">
    <input autocomplete="section-pay billing cc-number" name="card">
    <input autocomplete="cc-csc">
    <input type="range"><input type="number"><input list="l"><select multiple></select>
    <div role="tab" aria-selected="true" aria-expanded="true">Overview</div>
    <textarea>notes</textarea><h5>Small</h5><table><tr><td>cell</td></tr></table>
  </form>`;

test("names come from the places a screen reader reads them", () => {
  const doc = page(FORM).document;
  const name = (sel) => lib.accessibleName(doc.querySelector(sel));
  assert.equal(name("#id_username"), "Username");
  assert.equal(name("[name=password]"), "Password");
  assert.equal(name("[autocomplete=one-time-code]"), "One-time code");
  assert.equal(name("[type=search]"), "Search the site");
  assert.equal(name("[type=email]"), "Your email");
  assert.equal(name("[type=tel]"), "Phone");
  assert.equal(name("[type=submit]"), "Log in");
  assert.equal(name("#remember"), "Remember me");
  assert.equal(name("[type=image]"), "Go");
  assert.equal(name("select[name=country]"), "Country");
  assert.equal(name("button"), "★ Save draft");
  assert.equal(name("a"), "Help");
  assert.equal(name("img"), "Company logo");
  assert.equal(name("h2"), "Sign in");
  assert.equal(name("[role=tab]"), "Overview");
  assert.equal(name("textarea"), "");
});

test("masked text never names anything", () => {
  const doc = page(`<a href="/p/7">Patient <span class="ssn">123-45-6789</span></a>
    <span id="who" class="rr-block">Jane Doe</span><button aria-labelledby="who">x</button>
    <label for="n">Name <span data-deskscribe="mask">of Jane</span></label><input id="n">`).document;
  assert.equal(lib.accessibleName(doc.querySelector("a"), [".ssn"]), "Patient");
  assert.equal(lib.accessibleName(doc.querySelector("button"), []), "x");
  assert.equal(lib.accessibleName(doc.querySelector("#n"), []), "Name");
});

test("names are trimmed, collapsed and capped at 200 characters", () => {
  const doc = page(`<button>${"word ".repeat(100)}</button>`).document;
  const n = lib.accessibleName(doc.querySelector("button"));
  assert.equal(n.length, 200);
  assert.ok(!/\s\s/.test(n) && !n.startsWith(" "));
});

test("roles are explicit or implied by tag and input type", () => {
  const doc = page(FORM).document;
  const role = (sel) => lib.role(doc.querySelector(sel));
  const expected = {
    "#id_username": "textbox", "[type=password]": "textbox", "[type=search]": "searchbox",
    "[type=submit]": "button", "#remember": "checkbox", "[type=image]": "button",
    "select[name=country]": "combobox", "select[multiple]": "listbox", "option": "option", "button": "button",
    "a": "link", "img": "img", "h2": "heading", "h5": "heading", "[type=range]": "slider",
    "[type=number]": "spinbutton", "[list]": "combobox", "[role=tab]": "tab", "textarea": "textbox",
    "td": "cell", "tr": "row", "form": "form",
  };
  for (const [sel, r] of Object.entries(expected)) assert.equal(role(sel), r, sel);
  assert.equal(lib.role(page(`<a>no href</a>`).document.querySelector("a")), null);
  assert.equal(lib.role(page(`<img alt="">`).document.querySelector("img")), "presentation");
});

test("selectors prefer a meaningful unique id, then a naming attribute, then a path", () => {
  const doc = page(`${FORM}<div id="dup"></div><div id="dup"><p>a</p><p>b</p></div>
    <div data-testid="panel"></div><section><p>x</p><p>y</p></section><div id=":r5:"><i></i></div>`).document;
  const sel = (el) => lib.stableSelector(el);
  const check = (el) => {
    const s = sel(el);
    assert.equal(doc.querySelectorAll(s).length, 1, s);
    assert.equal(doc.querySelector(s), el, s);
    return s;
  };
  assert.equal(check(doc.querySelector("#id_username")), "#id_username");
  assert.equal(check(doc.querySelector("[name=password]")), 'input[name="password"]');
  assert.equal(check(doc.querySelector("[data-testid=panel]")), 'div[data-testid="panel"]');
  assert.equal(check(doc.querySelector("[type=search]")), 'input[aria-label="Search the site"]');
  assert.equal(check(doc.querySelector("a")), "#login > a:nth-of-type(1)");
  assert.equal(check(doc.querySelectorAll("#dup")[1].querySelectorAll("p")[1]), "html > body:nth-of-type(1) > div:nth-of-type(2) > p:nth-of-type(2)");
  assert.equal(check(doc.querySelector("section p:last-child")), "html > body:nth-of-type(1) > section:nth-of-type(1) > p:nth-of-type(2)");
  assert.ok(!check(doc.querySelector("i")).includes(":r5:"));
});

test("ids that need escaping still select their element", () => {
  const doc = page(`<div id="a.b"></div><div id="9lives"></div><div id="x y"></div>`).document;
  for (const el of doc.querySelectorAll("div")) assert.equal(doc.querySelector(lib.stableSelector(el)), el);
});

test("secret fields are recognised by type and by any autocomplete token", () => {
  const doc = page(FORM).document;
  const kind = (sel) => lib.sensitiveKind(doc.querySelector(sel));
  assert.equal(kind("[type=password]"), "password");
  assert.equal(kind("[autocomplete=one-time-code]"), "otp");
  assert.equal(kind("[name=card]"), "cc-number");
  assert.equal(kind("[autocomplete=cc-csc]"), "cc-csc");
  assert.equal(kind("#id_username"), null);
  assert.equal(lib.sensitiveKind(page(`<input autocomplete="new-password">`).document.querySelector("input")), "password");
  assert.equal(lib.sensitiveKind(page(`<input type="PASSWORD">`).document.querySelector("input")), "password");
  assert.equal(lib.sensitiveKind(null), null);
});

test("masks apply to the element and everything inside it; broken selectors never throw", () => {
  const doc = page(`<div class="ssn"><b>123-45-6789</b></div><p data-deskscribe="mask">m</p>
    <p class="rr-block">r</p><p class="ph-no-capture"><i>p</i></p><p id="free">f</p>`).document;
  const masks = [".ssn", "div[", "", ":::nope", 42];
  assert.equal(lib.isMasked(doc.querySelector("b"), masks), true);
  assert.equal(lib.isMasked(doc.querySelector("b").firstChild, masks), true);
  for (const sel of ["[data-deskscribe]", ".rr-block", ".ph-no-capture i"]) assert.equal(lib.isMasked(doc.querySelector(sel), []), true, sel);
  assert.equal(lib.isMasked(doc.querySelector("#free"), masks), false);
  assert.equal(lib.isMasked(doc.querySelector("#free"), undefined), false);
});

test("a target report names the control an action touched, in screen pixels", () => {
  const win = page(`<form id="f"><label for="u">Username</label><input id="u" data-rect="10 20 200 30">
    <button id="save" data-rect="10 60 80 30"><span class="icon">+</span> Save</button>
    <input type="password" id="pw" data-rect="10 100 200 30"></form>`);
  const doc = win.document;
  const vp = lib.viewportOnScreen(VIEWPORT_WINDOW);
  doc.querySelector("#u").focus();
  const t = lib.describeTarget(doc.querySelector("#u"), vp, []);
  assert.deepEqual(t, {
    tag: "input", role: "textbox", name: "Username", type: "text", autocomplete: null, bbox: [110, 170, 200, 30],
    selector: "#u", sensitive: null, masked: false, states: ["focused"],
  });
  const button = lib.actionTarget(doc.querySelector(".icon").firstChild);
  assert.equal(button.id, "save");
  assert.equal(lib.describeTarget(button, vp, []).name, "+ Save");
  const pw = lib.describeTarget(doc.querySelector("#pw"), vp, ["#pw"]);
  assert.equal(pw.sensitive, "password");
  assert.equal(pw.masked, true);
  assert.equal(pw.name, "");
  assert.equal(pw.selector, "#pw");
});

test("states say what applies to the element", () => {
  const doc = page(FORM).document;
  assert.deepEqual(lib.describeTarget(doc.querySelector("#remember"), lib.viewportOnScreen(VIEWPORT_WINDOW), []).states, ["checked", "disabled"]);
  assert.deepEqual(lib.describeTarget(doc.querySelector("[role=tab]"), lib.viewportOnScreen(VIEWPORT_WINDOW), []).states, ["selected", "expanded"]);
});

test("a select's choice is the option's text, never its value attribute", () => {
  const doc = page(FORM).document;
  assert.equal(lib.selectedText(doc.querySelector("select[name=country]")), "Germany");
});
