#!/usr/bin/env node
// Adapts one database URL to its consumers: `migrate` for dbmate, `hyperdrive` for the local
// Hyperdrive binding, `redact` for logs.
const [mode, raw] = process.argv.slice(2);
const url = new URL(raw);
const local = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);

switch (mode) {
  case "migrate":
    // dbmate's driver asks for TLS unless told otherwise; local servers rarely speak it.
    if (local && !url.searchParams.has("sslmode")) url.searchParams.set("sslmode", "disable");
    break;
  case "hyperdrive":
    // The local binding wants explicit credentials; a trust-auth server ignores the password.
    if (!url.username) url.username = "postgres";
    if (!url.password) url.password = "postgres";
    if (local) url.search = "";
    break;
  case "redact":
    if (url.password) url.password = "***";
    break;
  default:
    console.error("usage: dburl.mjs migrate|hyperdrive|redact URL");
    process.exit(2);
}
console.log(url.toString());
