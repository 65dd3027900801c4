// The browser suite's own loopback servers: the front end's origin (the test page, with Better
// Auth mounted under /api/auth as a Next.js app mounts it), and a counting proxy in front of the
// worker, so the suite sees from the server's side what the browser actually sent (preflights
// included, which page JavaScript never sees).
import http from "node:http";
import path from "node:path";
import * as esbuild from "esbuild";

const AUTH_PREFIX = "/api/auth/";

/** The test page's script (tests/browser/page/app.ts: Better Auth's client, its JWT plugin and
 *  clients/typescript), bundled for the browser by esbuild, in memory. */
export async function bundlePage() {
  const result = await esbuild.build({
    entryPoints: [path.join(import.meta.dirname, "page/app.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  return result.outputFiles[0].text;
}

const listen = (server) => new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(0, "127.0.0.1", () => resolve(server.address().port));
});

/** Forwards `req` to `target` (an origin) and streams the answer back; `onResponse` may read
 *  and change the answer's status and headers before they are sent. */
function forward(req, res, target, onResponse = () => {}) {
  const url = new URL(req.url, target);
  const upstream = http.request(url, { method: req.method, headers: req.headers }, (answer) => {
    const headers = { ...answer.headers };
    onResponse(answer.statusCode, headers);
    res.writeHead(answer.statusCode, headers);
    answer.pipe(res);
  });
  upstream.on("error", (error) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
    res.end(`proxy: ${error.message}`);
  });
  req.pipe(upstream);
}

/**
 * A front end's origin on 127.0.0.1: `/` is a blank page that loads the bundle `script` as
 * `/app.js`; requests under /api/auth/ go to the Better Auth server set with `authTarget()`.
 * Nothing else is served (404).
 */
export async function startPageServer(script) {
  let auth = null;
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, "http://x");
    if (pathname.startsWith(AUTH_PREFIX) && auth) return forward(req, res, auth);
    if (req.method === "GET" && pathname === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      return res.end('<!doctype html><html><head><title>front end</title><script type="module" src="/app.js"></script></head><body></body></html>');
    }
    if (req.method === "GET" && pathname === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" });
      return res.end(script);
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  });
  const port = await listen(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    /** Where /api/auth/* goes (Better Auth's origin). */
    authTarget(url) {
      auth = new URL(url).origin;
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * A proxy on its own 127.0.0.1 port in front of the worker at `target`: the API's origin as the
 * browser sees it. It keeps the browser's Host (so the worker's `Link` URLs lead back through
 * it) and records every request: method, path with query, Origin, status and the answer's
 * Access-Control-Max-Age. `maxAge(pathname, value)` rewrites that header on preflight answers
 * for one path (a control for the preflight cache).
 */
export async function startCountingProxy(target) {
  const seen = [];
  const maxAges = new Map();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    const entry = { method: req.method, path: url.pathname, url: req.url, origin: req.headers.origin ?? null, status: null, maxAge: null };
    seen.push(entry);
    forward(req, res, target, (status, headers) => {
      entry.status = status;
      if (req.method === "OPTIONS" && maxAges.has(url.pathname) && headers["access-control-max-age"] !== undefined) {
        headers["access-control-max-age"] = maxAges.get(url.pathname);
      }
      entry.maxAge = headers["access-control-max-age"] ?? null;
    });
  });
  const port = await listen(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    /** Every request so far, oldest first; `filter` as for Array#filter. */
    requests: (filter = () => true) => seen.filter(filter),
    maxAge(pathname, value) {
      maxAges.set(pathname, String(value));
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
