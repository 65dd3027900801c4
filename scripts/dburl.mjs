#!/usr/bin/env node
// Adapts one database URL to its consumers: dbmate (`migrate`), the local Hyperdrive binding
// (`hyperdrive`) and logs (`redact`). Used by scripts/dev.sh and the integration harness.
import { fileURLToPath } from "node:url";

const isLocal = (url) => ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);

/** dbmate's driver asks for TLS unless told otherwise; local servers rarely speak it. */
export function forMigrate(raw) {
  const url = new URL(raw);
  if (isLocal(url) && !url.searchParams.has("sslmode")) url.searchParams.set("sslmode", "disable");
  return url.toString();
}

/** The local binding wants explicit credentials (a trust-auth server ignores the password);
 *  `port` reroutes a local URL through another port, e.g. the tests' fault proxy. */
export function forHyperdrive(raw, { port } = {}) {
  const url = new URL(raw);
  if (!url.username) url.username = "postgres";
  if (!url.password) url.password = "postgres";
  if (port) {
    url.hostname = "127.0.0.1";
    url.port = String(port);
  }
  if (isLocal(url)) url.search = "";
  return url.toString();
}

export function redact(raw) {
  const url = new URL(raw);
  if (url.password) url.password = "***";
  return url.toString();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, raw] = process.argv.slice(2);
  const adapt = { migrate: forMigrate, hyperdrive: forHyperdrive, redact }[mode];
  if (!adapt || !raw) {
    console.error("usage: dburl.mjs migrate|hyperdrive|redact URL");
    process.exit(2);
  }
  console.log(adapt(raw));
}
