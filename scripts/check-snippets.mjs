#!/usr/bin/env node
// make client-check: the TypeScript a front-end developer copies type-checks against the real
// packages. That is every TypeScript block of README.md (Better Auth's server setup and the
// Next.js example, against the installed `better-auth` and clients/typescript's source as
// `@task-api/client`) and the browser suite's page script (tests/browser/page/app.ts, which
// imports the client by its path), with tsc in strict mode. React is not installed, so what
// `better-auth/react` takes from React's own types is not checked.
//
// usage: node scripts/check-snippets.mjs
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const out = path.join(root, "build/snippets");
const tsc = path.join(root, "clients/typescript/node_modules/.bin/tsc");
if (!fs.existsSync(tsc)) {
  console.error("check-snippets: clients/typescript's tsc is missing (scripts/setup-test.sh installs it)");
  process.exit(1);
}

/** The TypeScript blocks of a Markdown file (```ts, ```typescript or ```tsx, with or without
 *  more info after the language), with the line each starts on. */
function blocks(file) {
  const lines = fs.readFileSync(path.join(root, file), "utf8").split("\n");
  const found = [];
  let open;
  lines.forEach((line, i) => {
    const fence = line.trim();
    if (open === undefined && /^```(ts|typescript|tsx)(\s|$)/.test(fence)) open = { line: i + 2, text: [] };
    else if (open !== undefined && fence === "```") found.push(open), (open = undefined);
    else if (open !== undefined) open.text.push(line);
  });
  if (open !== undefined) {
    console.error(`check-snippets: ${file}: the TypeScript block from line ${open.line - 1} is never closed`);
    process.exit(1);
  }
  return found.map(({ line, text }) => ({ line, text: text.join("\n") }));
}

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const files = [];
for (const [k, block] of blocks("README.md").entries()) {
  const name = `readme-${k + 1}.ts`;
  // Where a snippet starts in README.md, so tsc's message points back to it.
  fs.writeFileSync(path.join(out, name), `// README.md, line ${block.line}\n${block.text}\nexport {};\n`);
  files.push(name);
}
if (files.length === 0) {
  console.error("check-snippets: README.md has no TypeScript block: has the Next.js example moved?");
  process.exit(1);
}
// Next.js inlines NEXT_PUBLIC_* variables; the snippets see `process.env` as a browser bundle does.
fs.writeFileSync(
  path.join(out, "env.d.ts"),
  "declare const process: { env: Record<string, string | undefined> };\n",
);
const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2022", "DOM", "DOM.Iterable"],
    module: "ESNext",
    // As a bundler resolves them (Next.js, and esbuild for the page script).
    moduleResolution: "Bundler",
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    // Errors inside the packages' own declarations are theirs; their use here is checked (an
    // import a declaration cannot resolve, such as React's types, becomes \`any\`).
    skipLibCheck: true,
    types: [],
    paths: { "@task-api/client": ["../../clients/typescript/src/index.ts"] },
  },
  files: [...files, "env.d.ts", "../../tests/browser/page/app.ts"],
};
fs.writeFileSync(path.join(out, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
try {
  execFileSync(tsc, ["-p", out], { stdio: "inherit" });
} catch {
  console.error("check-snippets: a README.md snippet or tests/browser/page/app.ts does not type-check");
  process.exit(1);
}
console.log(`tsc: ${files.length} README.md snippet(s) and tests/browser/page/app.ts type-check`);
