#!/usr/bin/env node
// A real, stock Better Auth server (the `jwt()` plugin, email + password, in-memory database)
// on loopback, for the integration tests and for trying the worker's JWKS mode by hand:
//
//   node scripts/better-auth.mjs [--port 3000] [--alg EdDSA|ES256|RS256|PS256]
//
// As a library, `startBetterAuth()` also lets a test cut the server off ("down", "blackhole")
// and count how often the worker fetched the JWKS.
import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins/jwt";

// The plugin's `jwks.keyPairConfig` per algorithm. EdDSA (Ed25519) is Better Auth's default:
// no keyPairConfig at all, so that instance is configured exactly as a stock deployment.
const KEY_PAIRS = {
  EdDSA: undefined,
  ES256: { alg: "ES256" },
  RS256: { alg: "RS256", modulusLength: 2048 },
  PS256: { alg: "PS256", modulusLength: 2048 },
};

const BASE_PATH = "/api/auth";

/**
 * Starts Better Auth on 127.0.0.1 (`port`, default a free one).
 * Options: `alg` (default "EdDSA"), `rotationInterval` and `gracePeriod` (seconds, passed to
 * `jwks`), `jwt` (the plugin's `jwt` option: definePayload, getSubject, issuer, audience…),
 * `plugin` (more options of the plugin, e.g. `sessionCookieCache`), `options` (more options
 * of `betterAuth()`, e.g. `emailVerification`, `session`), `secret` (its BETTER_AUTH_SECRET;
 * default a random one, returned as `secret`).
 */
export async function startBetterAuth({
  port = 0, alg = "EdDSA", rotationInterval, gracePeriod, jwt: jwtOptions, plugin = {}, options = {},
  secret = crypto.randomBytes(32).toString("base64url"),
} = {}) {
  if (!(alg in KEY_PAIRS)) throw new Error(`unsupported alg ${alg}; one of ${Object.keys(KEY_PAIRS).join(", ")}`);

  // A plain TCP listener in front of the HTTP server, so that "blackhole" can accept
  // connections and never answer, and "down" can refuse them, while the port stays the same.
  let mode = "up";
  let jwksFetches = 0;
  let connections = 0;
  const sockets = new Set();
  let handler; // toNodeHandler(auth), set once the instance exists
  const httpServer = http.createServer((req, res) => {
    if (req.method === "GET" && new URL(req.url, "http://x").pathname === `${BASE_PATH}/jwks`) jwksFetches++;
    // One request per connection: a client never reuses a socket that a mode change (or
    // Node's 5 s keep-alive timeout) is closing under it, and connections() counts attempts.
    res.setHeader("Connection", "close");
    handler(req, res);
  });
  const tcp = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    if (mode === "up") httpServer.emit("connection", socket);
    // "blackhole": keep the socket open, read nothing, answer nothing.
  });
  const listen = (p) => new Promise((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(p, "127.0.0.1", () => {
      tcp.off("error", reject);
      resolve(tcp.address().port);
    });
  });
  const unlisten = () => new Promise((resolve) => (tcp.listening ? tcp.close(() => resolve()) : resolve()));

  // Listen first: Better Auth needs its base URL (the tokens' iss and aud) up front.
  const boundPort = await listen(port);
  const url = `http://127.0.0.1:${boundPort}`;
  const jwksUrl = `${url}${BASE_PATH}/jwks`;

  const jwks = {};
  if (KEY_PAIRS[alg]) jwks.keyPairConfig = KEY_PAIRS[alg];
  if (rotationInterval !== undefined) jwks.rotationInterval = rotationInterval;
  if (gracePeriod !== undefined) jwks.gracePeriod = gracePeriod;
  const db = { user: [], session: [], account: [], verification: [], jwks: [] };
  const auth = betterAuth({
    baseURL: url,
    basePath: BASE_PATH,
    secret,
    database: memoryAdapter(db),
    emailAndPassword: { enabled: true },
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    ...options,
    plugins: [jwt({
      ...(Object.keys(jwks).length ? { jwks } : {}),
      ...(jwtOptions ? { jwt: jwtOptions } : {}),
      ...plugin,
    })],
  });
  handler = toNodeHandler(auth);

  /** A JWT for the session behind `cookie`, from the plugin's own GET /token endpoint. */
  async function token(cookie) {
    const { token: value } = await auth.api.getToken({ headers: new Headers({ cookie }) });
    return value;
  }

  return {
    url,
    jwksUrl,
    auth,
    secret,

    /** Signs a user up (random email unless given) and returns its id, cookie and a JWT. */
    async newUser({ email, password = "correct horse battery staple", name = "Test User" } = {}) {
      email ??= `user-${crypto.randomBytes(8).toString("hex")}@example.test`;
      const { headers, response } = await auth.api.signUpEmail({
        body: { email, password, name },
        returnHeaders: true,
      });
      // "name=value" of each Set-Cookie, as a browser would send them back.
      const cookie = headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
      return { userId: response.user.id, email, cookie, token: await token(cookie) };
    },

    token,

    /** The JWKS as served at jwksUrl (read in-process: no HTTP, not counted, works when down). */
    async jwks() {
      return JSON.parse(JSON.stringify(await auth.api.getJwks()));
    },

    /** GET requests for the JWKS path the HTTP server has received. */
    jwksFetches: () => jwksFetches,

    /** TCP connections accepted, in any mode ("up" or "blackhole"). */
    connections: () => connections,

    /** "up", "down" (connections refused) or "blackhole" (accepted, never answered).
     *  Open connections are cut on every change, so no kept-alive socket outlives a mode. */
    async set(next) {
      if (!["up", "down", "blackhole"].includes(next)) throw new Error(`unknown mode ${next}`);
      for (const socket of sockets) socket.destroy();
      if (next === "down") await unlisten();
      else if (!tcp.listening) await listen(boundPort);
      mode = next;
    },

    async close() {
      for (const socket of sockets) socket.destroy();
      await unlisten();
      httpServer.close();
    },
  };
}

function parseArgs(argv) {
  const args = { port: 3000, alg: "EdDSA" };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2);
    const value = inline ?? argv[++i];
    if (flag === "--port") args.port = Number(value);
    else if (flag === "--alg") args.alg = value;
    else {
      console.error("usage: node scripts/better-auth.mjs [--port 3000] [--alg EdDSA|ES256|RS256|PS256]");
      process.exit(2);
    }
  }
  return args;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { port, alg } = parseArgs(process.argv.slice(2));
  const server = await startBetterAuth({ port, alg });
  const email = "demo@example.test";
  const password = "demo-password-123";
  const demo = await server.newUser({ email, password, name: "Demo" });
  const { url } = server;
  console.log(`Better Auth (${alg} keys) is up at ${url}; its JWKS is at ${server.jwksUrl}

For the worker (environment of \`make dev\`, or .dev.vars):
BETTER_AUTH_URL=${url}

Demo user ${email} / ${password}
  id:    ${demo.userId}
  token: ${demo.token}

How any client gets a token: sign in (the session cookie goes into a jar), then ask for a JWT
(valid 15 minutes; ask again for a fresh one). Sign-up is POST ${BASE_PATH}/sign-up/email with a "name".
  curl -s -c /tmp/better-auth.cookies -H 'Content-Type: application/json' \\
    -d '{"email":"${email}","password":"${password}"}' ${url}${BASE_PATH}/sign-in/email
  curl -s -b /tmp/better-auth.cookies ${url}${BASE_PATH}/token

Then, with the worker on its default port:
  curl -s -H "Authorization: Bearer <token>" http://127.0.0.1:8787/api/${demo.userId}/tasks

Ctrl-C to stop.`);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
