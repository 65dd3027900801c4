// Entry point of the browser suite (`make browser`, part of `make test`): one database and one
// headless Chromium (Debian's package, driven by playwright-core) for both suites.
//   api.mjs   a front end on its own origin: Better Auth's client and clients/typescript, every
//             route, paging, conditional requests, errors, token refresh, CORS and preflights
//   docs.mjs  /docs rendered, nothing fetched from another origin, a screenshot in artifacts/
import { after, before } from "node:test";
import { chromium } from "playwright-core";
import { startDatabase } from "../integration/harness.mjs";
import { CHROMIUM, settled, suite } from "./context.mjs";
// Static imports (see tests/integration/main.test.mjs for why not `await import`).
import "./api.mjs";
import "./docs.mjs";

before(async () => {
  await settled(
    startDatabase().then((db) => (suite.db = db)),
    chromium.launch({ executablePath: CHROMIUM }).then((browser) => (suite.browser = browser)),
  );
});

after(async () => {
  await suite.browser?.close();
  await suite.db?.stop();
});
