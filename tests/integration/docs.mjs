// The /docs page: served by the worker under a Content-Security-Policy that admits only its own
// origin, with every script it loads served by the same worker (Workers Static Assets, public/),
// and the asset folder unable to take any path from the worker. That the page then renders, and
// makes no request elsewhere, is proven in a browser by tests/browser/docs.mjs.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { expectError, suite } from "./context.mjs";

const root = path.resolve(import.meta.dirname, "../..");

/** A Content-Security-Policy header as directive → sources. */
function parsePolicy(header) {
  return Object.fromEntries((header ?? "").split(";").map((d) => d.trim()).filter(Boolean).map((directive) => {
    const [name, ...sources] = directive.split(/\s+/);
    return [name.toLowerCase(), sources];
  }));
}

/** Every src and href attribute of an HTML page, with its element. */
function references(html) {
  return [...html.matchAll(/<(\w+)\b[^>]*?\s(src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)]
    .map((m) => ({ element: m[1].toLowerCase(), attribute: m[2].toLowerCase(), value: m[3] ?? m[4] ?? m[5] }));
}

async function getDocs() {
  const response = await fetch(`${suite.base}/docs`);
  assert.equal(response.status, 200);
  return { response, html: await response.text() };
}

describe("/docs", () => {
  it("is an HTML page under a policy that lets scripts, styles, fonts and connections come only from its own origin", async () => {
    const { response } = await getDocs();
    assert.match(response.headers.get("content-type") ?? "", /^text\/html\b/);
    const header = response.headers.get("content-security-policy");
    assert.ok(header, "a Content-Security-Policy header");
    const policy = parsePolicy(header);
    assert.deepEqual(policy["default-src"], ["'none'"], "whatever is not named is refused");
    assert.deepEqual(policy["script-src"], ["'self'"], "scripts: this origin's files only (no inline, no eval)");
    assert.deepEqual(policy["connect-src"], ["'self'"], "fetches (the request client, a pasted token) go nowhere else");
    assert.deepEqual(policy["frame-ancestors"], ["'none'"], "no other page can frame it");
    assert.deepEqual(policy["base-uri"], ["'none'"]);
    // No directive names another origin, a scheme wildcard or a host.
    const allowed = { "style-src": ["'self'", "'unsafe-inline'"], "img-src": ["'self'", "data:"] };
    for (const [name, sources] of Object.entries(policy)) {
      for (const source of sources) {
        assert.ok(["'self'", "'none'", ...(allowed[name] ?? [])].includes(source), `${name} ${source}`);
      }
    }
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("referrer-policy"), "no-referrer");
  });

  it("references nothing on another origin, and every file it loads is served with its type, nosniff and revalidation", async () => {
    const { html } = await getDocs();
    const refs = references(html);
    const scripts = refs.filter((r) => r.element === "script" && r.attribute === "src");
    assert.ok(scripts.length > 0, `the page loads a script: ${html}`);
    for (const ref of refs) {
      // Same origin: a path (not a protocol-relative //host), or an inline data: URL.
      assert.ok(/^\/(?!\/)/.test(ref.value) || ref.value.startsWith("data:"), `<${ref.element} ${ref.attribute}="${ref.value}">`);
    }
    for (const ref of refs.filter((r) => !r.value.startsWith("data:"))) {
      const response = await fetch(`${suite.base}${ref.value}`);
      assert.equal(response.status, 200, ref.value);
      const type = ref.element === "script" ? /^text\/javascript\b/ : /^text\/css\b/;
      assert.match(response.headers.get("content-type") ?? "", type, ref.value);
      assert.equal(response.headers.get("x-content-type-options"), "nosniff", ref.value);
      assert.equal(response.headers.get("cache-control"), "no-cache", ref.value);
      const etag = response.headers.get("etag");
      assert.ok(etag, `${ref.value}: an ETag to revalidate against`);
      assert.ok((await response.arrayBuffer()).byteLength > 0, ref.value);
      const again = await fetch(`${suite.base}${ref.value}`, { headers: { "If-None-Match": etag } });
      assert.equal(again.status, 304, `${ref.value}: unchanged, not sent again`);
    }
    // The document it renders, from the same worker.
    const documentUrl = html.match(/\sdata-url="([^"]+)"/)?.[1];
    assert.equal(documentUrl, "/openapi.json");
  });

  it("serves the API reference at exactly the version package.json pins", async () => {
    // A dependency, not a devDependency: the build copies it (scripts/build.sh).
    const pin = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).dependencies["@scalar/api-reference"];
    assert.match(pin, /^\d+\.\d+\.\d+$/, "an exact version, not a range");
    const packageDir = path.join(root, "node_modules/@scalar/api-reference");
    assert.equal(JSON.parse(fs.readFileSync(path.join(packageDir, "package.json"), "utf8")).version, pin, "installed as pinned");
    const { html } = await getDocs();
    const bundle = references(html).find((r) => /scalar-api-reference\.js$/.test(r.value));
    assert.ok(bundle, `the page loads the API reference's bundle: ${html}`);
    const served = Buffer.from(await (await fetch(`${suite.base}${bundle.value}`)).arrayBuffer());
    const packaged = fs.readFileSync(path.join(packageDir, "dist/browser/standalone.js"));
    assert.ok(served.equals(packaged), "the served bundle is the package's dist/browser/standalone.js, unmodified");
  });

  it("configures Scalar to use no service of its own: no font CDN, no request proxy, no agent, no telemetry", async () => {
    const { html } = await getDocs();
    const raw = html.match(/\sdata-configuration='([^']*)'/)?.[1];
    assert.ok(raw, `a data-configuration attribute: ${html}`);
    const config = JSON.parse(raw);
    assert.equal(config.withDefaultFonts, false);
    assert.equal(config.proxyUrl, "", "no proxy (an empty value, which Scalar does not replace with its own)");
    assert.equal(config.telemetry, false);
    assert.equal(config.agent?.disabled, true);
    assert.doesNotMatch(raw, /https?:|\/\//, "no URL in the configuration");
  });

  it("leaves every route to the worker: only /docs/assets/* comes from the asset folder", async () => {
    // The worker's answers carry its X-Request-Id; the asset server's do not.
    for (const p of ["/health", "/openapi.json", "/docs"]) {
      const response = await fetch(`${suite.base}${p}`);
      assert.equal(response.status, 200, p);
      assert.ok(response.headers.get("x-request-id"), `${p} answered by the worker`);
      await response.arrayBuffer();
    }
    const api = await fetch(`${suite.base}/api/u/tasks`);
    assert.ok(api.headers.get("x-request-id"), "/api answered by the worker");
    await expectError(api, 401);
    // Asset-folder metadata and paths outside /docs/assets are the worker's JSON 404s.
    for (const p of ["/_headers", "/docs/_headers", "/scalar-api-reference.js", "/docs/scalar-api-reference.js"]) {
      const response = await fetch(`${suite.base}${p}`);
      assert.ok(response.headers.get("x-request-id"), `${p} answered by the worker`);
      await expectError(response, 404, "not_found");
    }
    // Under /docs/assets, a name that is no file is the asset server's bare 404.
    const missing = await fetch(`${suite.base}/docs/assets/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("x-request-id"), null);
    await missing.arrayBuffer();
  });
});
