#!/usr/bin/env node
// The compiled CLI; this file exists before the first build, so that the bin link always has a target.
import "../dist/main.js";
