"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const { contentPage, settle } = require("../support/fake-page.js");

const HTML = `<form id="login">
  <label for="id_username">Username</label><input id="id_username" name="username" data-rect="10 10 200 30">
  <label for="pw">Password</label><input id="pw" type="password" data-rect="10 50 200 30">
  <button id="go" data-rect="10 90 80 30"><span id="icon" data-rect="12 92 10 10">»</span> Log in</button>
  <select id="country" data-rect="10 130 100 20"><option value="fr">France</option><option value="de">Germany</option></select>
  <div class="ssn" data-rect="10 160 100 20"><select id="secret" data-rect="10 160 100 20"><option value="a">Alpha</option><option value="b">Beta</option></select></div>
  <p data-rect="10 200 300 20">Customer jane@example.com</p>
  <p class="ssn" data-rect="10 220 300 20">123-45-6789</p>
</form>`;
const DESIGNATED = { kind: "designate", designated: true, masks: [".ssn"], zoom: 1, screenUnits: "dip" };

test("on a page that is not designated the content script only asks, and stays silent", async (t) => {
  const p = contentPage(HTML);
  t.after(p.close);
  await settle();
  p.document.querySelector("#id_username").focus();
  p.pointerdown(p.document.querySelector("#go"));
  p.keydown(p.document.querySelector("#id_username"), "a");
  assert.deepEqual(p.sent, [{ kind: "page" }]);
  assert.deepEqual(p.tell({ kind: "snapshot" }), { designated: false });
});

test("on a designated page it reports where the page is and what is focused", async (t) => {
  const p = contentPage(HTML, { state: DESIGNATED });
  t.after(p.close);
  await settle();
  const viewport = p.sent.find((m) => m.kind === "viewport").viewport;
  assert.deepEqual([viewport.x, viewport.y, viewport.width, viewport.height], [100, 150, 1280, 800]);
  p.document.querySelector("#id_username").focus();
  const [focus] = p.targets();
  assert.equal(focus.event, "focus");
  assert.equal(typeof focus.t_ms, "number");
  assert.deepEqual({ ...focus.target, bbox: undefined }, {
    tag: "input", role: "textbox", name: "Username", type: "text", autocomplete: null, bbox: undefined,
    selector: "#id_username", sensitive: null, masked: false, states: ["focused"],
  });
  assert.deepEqual(focus.target.bbox, [110, 160, 200, 30]);
});

test("a pointer down names the control around what was hit, and only a user's counts", async (t) => {
  const p = contentPage(HTML, { state: DESIGNATED });
  t.after(p.close);
  await settle();
  p.document.querySelector("#icon").dispatchEvent(new p.window.MouseEvent("pointerdown", { bubbles: true }));
  assert.equal(p.targets().length, 0);
  p.pointerdown(p.document.querySelector("#icon"));
  const [down] = p.targets();
  assert.deepEqual([down.event, down.target.selector, down.target.name], ["pointerdown", "#go", "» Log in"]);
});

test("keydowns say which field has focus, never which key", async (t) => {
  const p = contentPage(HTML, { state: DESIGNATED });
  t.after(p.close);
  await settle();
  const pw = p.document.querySelector("#pw");
  pw.focus();
  for (const key of ["h", "u", "n", "Tab"]) p.keydown(pw, key);
  const keys = p.targets().filter((m) => m.event === "keydown");
  assert.equal(keys.length, 2);
  assert.deepEqual([keys[0].target.sensitive, keys[0].target.selector], ["password", "#pw"]);
  const json = JSON.stringify(p.sent);
  for (const key of ['"h"', '"u"', '"n"', "Tab"]) assert.ok(!json.includes(key), key);
});

test("a change on a select carries the chosen option's text; a masked select's does not", async (t) => {
  const p = contentPage(HTML, { state: DESIGNATED });
  t.after(p.close);
  await settle();
  const country = p.document.querySelector("#country");
  country.value = "de";
  p.change(country);
  const secret = p.document.querySelector("#secret");
  secret.value = "b";
  p.change(secret);
  const [plain, masked] = p.targets().filter((m) => m.event === "change");
  assert.equal(plain.value, "Germany");
  assert.deepEqual([masked.target.masked, masked.target.name, "value" in masked], [true, "", false]);
  assert.ok(!JSON.stringify(p.sent).includes("Beta"));
});

test("a snapshot has the visible text without the secrets, and masks over them", async (t) => {
  const p = contentPage(HTML, { state: DESIGNATED });
  t.after(p.close);
  await settle();
  p.document.querySelector("#pw").value = "hunter2-secret";
  p.document.querySelector("#id_username").value = "jane";
  const snap = p.tell({ kind: "snapshot" });
  const text = snap.runs.map((r) => r.text);
  assert.ok(text.includes("Customer jane@example.com") && text.includes("jane"));
  const json = JSON.stringify(snap);
  assert.ok(!json.includes("hunter2") && !json.includes("123-45-6789") && !json.includes("Beta"));
  assert.equal(snap.masks.length, 3);
  assert.deepEqual(snap.opaque, []);
  assert.equal(snap.truncated, false);
});

test("when the page stops being designated it falls silent again", async (t) => {
  const p = contentPage(HTML, { state: DESIGNATED });
  t.after(p.close);
  await settle();
  p.tell({ kind: "designate", designated: false });
  const before = p.sent.length;
  p.document.querySelector("#id_username").focus();
  p.pointerdown(p.document.querySelector("#go"));
  assert.equal(p.sent.length, before);
  assert.deepEqual(p.tell({ kind: "snapshot" }), { designated: false });
});
