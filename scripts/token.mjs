#!/usr/bin/env node
// Mints an HS256 token the worker accepts, signed with BETTER_AUTH_SECRET (environment, else
// .dev.vars). Used by `make token USER_ID=…`, by `make dev`'s ready-to-paste curl and by the
// integration tests.
import crypto from "node:crypto";
import fs from "node:fs";
import { fileURLToPath } from "node:url";

const b64url = (value) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** Signs `claims` with `secret`; `header` may override the JOSE header (tests forge with it). */
export function signToken(claims, secret, header = { alg: "HS256", typ: "JWT" }) {
  const signingInput = `${b64url(header)}.${b64url(claims)}`;
  const signature = crypto.createHmac("sha256", secret).update(signingInput).digest("base64url");
  return `${signingInput}.${signature}`;
}

/** A token for `userId` valid for `ttlSeconds`, with Better Auth's usual claims. */
export function mintToken({ userId, secret, email, ttlSeconds = 3600, extra = {} }) {
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: userId, iat: now, exp: now + ttlSeconds, ...extra };
  if (email) claims.email = email;
  return signToken(claims, secret);
}

/** The secret from the environment, else from .dev.vars in the working directory. */
export function readSecret(devVarsPath = ".dev.vars") {
  if (process.env.BETTER_AUTH_SECRET) return process.env.BETTER_AUTH_SECRET;
  if (!fs.existsSync(devVarsPath)) return undefined;
  for (const line of fs.readFileSync(devVarsPath, "utf8").split(/\r?\n/)) {
    const match = line.match(/^\s*BETTER_AUTH_SECRET\s*=\s*(.*?)\s*$/);
    if (match) return match[1].replace(/^(["'])(.*)\1$/, "$2");
  }
  return undefined;
}

const isMain = process.argv[1] === fileURLToPath(import.meta.url);
if (isMain && process.argv[2] === "--print-secret") {
  // For scripts/dev.sh: the secret the dev server will use, if one is configured.
  const secret = readSecret();
  if (!secret) process.exit(1);
  console.log(secret);
} else if (isMain) {
  const userId = process.env.USER_ID || process.argv[2];
  const secret = readSecret();
  if (!userId || !secret) {
    console.error("usage: USER_ID=<id> [EMAIL=<email>] [TTL=<seconds>] make token");
    console.error("needs BETTER_AUTH_SECRET in the environment or .dev.vars (make dev writes one)");
    process.exit(2);
  }
  const ttlSeconds = Number(process.env.TTL || 3600);
  console.log(mintToken({ userId, secret, email: process.env.EMAIL, ttlSeconds }));
}
