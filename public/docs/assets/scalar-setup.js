// Loaded by /docs before the API reference's bundle. The Zod inside the bundle compiles its
// validators with Function() unless told not to; the page's Content-Security-Policy forbids
// that (no 'unsafe-eval'), so Zod's probe would be blocked and reported as a violation. Jitless,
// it validates without generating code.
globalThis.__zod_globalConfig = { ...globalThis.__zod_globalConfig, jitless: true };
