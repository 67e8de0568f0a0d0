import fc from "fast-check";

// CI draws the same examples on every run, so that a failure there is one to reproduce; a local run
// draws new ones each time, and a failure prints its seed.
if (process.env.CI) fc.configureGlobal({ seed: 20_261_202 });
