#!/usr/bin/env node
// Keeps package-lock.json installable with `npm ci` on every platform scripts/setup.sh supports.
//
// dbmate and squawk-cli ship their binaries as one optional package per platform
// (`@dbmate/darwin-arm64`, ...). `npm ci` refuses a lock file that lacks any of them, on every
// platform, and npm leaves out of the lock the ones its registry cannot serve: a mirror that
// carries only linux-x64's (as the one this project was built against did) yields a lock that
// `npm ci` refuses everywhere. This script adds each missing one as npm would (exact version,
// os/cpu from its name, optional), so `npm ci` installs the platform's binary and skips the rest.
// Such an entry has no integrity hash (the mirror could not serve the file to hash it); an
// `npm install` against a registry that has them fills it in.
//
//   node scripts/lock-platforms.mjs          add the missing entries (after an `npm install` that
//                                            changed dbmate's or squawk's version)
//   node scripts/lock-platforms.mjs --check  exit 1 listing them (`make test`)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const lockPath = path.join(root, "package-lock.json");
const PLATFORM = /(?:^|\/)(darwin|linux|win32|freebsd)-(x64|arm64|arm|ia32)$/;

/** The optional dependencies the lock names but does not hold, with the entry each needs. */
export function missingEntries(lock) {
  const packages = lock.packages;
  const missing = [];
  for (const [key, entry] of Object.entries(packages)) {
    for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
      // npm looks for a dependency beside its dependent first, then up the tree.
      const candidates = [];
      for (let at = key; at; at = at.includes("/node_modules/") ? at.slice(0, at.lastIndexOf("/node_modules/")) : "") {
        candidates.push(`${at}/node_modules/${name}`);
      }
      candidates.push(`node_modules/${name}`);
      if (candidates.some((candidate) => packages[candidate])) continue;
      const platform = name.match(PLATFORM);
      if (!platform || !/^\d+\.\d+\.\d+$/.test(spec)) {
        throw new Error(`${key} wants ${name}@${spec}, which is not an exactly pinned platform package: add it by hand`);
      }
      const entryFor = { version: spec, cpu: [platform[2]], ...(entry.dev ? { dev: true } : {}), optional: true, os: [platform[1]] };
      missing.push({ key: `node_modules/${name}`, entry: entryFor, from: key });
    }
  }
  return missing;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const lock = JSON.parse(fs.readFileSync(lockPath, "utf8"));
  const missing = missingEntries(lock);
  if (process.argv[2] === "--check") {
    if (missing.length) {
      console.error("package-lock.json lacks these platform packages, so `npm ci` refuses it:");
      for (const { key, from } of missing) console.error(`  ${key} (optional dependency of ${from})`);
      console.error("run: node scripts/lock-platforms.mjs");
      process.exit(1);
    }
    console.log("package-lock.json: every platform package is present");
  } else {
    for (const { key, entry } of missing) lock.packages[key] = entry;
    // npm keeps the entries sorted by path.
    lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => a.localeCompare(b, "en")));
    fs.writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
    console.log(`package-lock.json: added ${missing.length} platform package(s)`);
  }
}
