"use strict";

/** The extension's files as the tests load them: lib.js (with page.js) for Node, and the
 * sources of the scripts that run inside a browser. */
const fs = require("node:fs");
const path = require("node:path");

const EXTENSION_DIR = path.resolve(__dirname, "../../src/deskscribe/browser/extension");
const lib = require(path.join(EXTENSION_DIR, "lib.js"));
const source = (name) => fs.readFileSync(path.join(EXTENSION_DIR, name), "utf8");

module.exports = { EXTENSION_DIR, lib, source };
