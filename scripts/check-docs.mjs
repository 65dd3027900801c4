#!/usr/bin/env node
// `make docs`: checks the Markdown front page and its documents (README.md, docs/*.md,
// bench/README.md, SECURITY.md, fuzz/README.md). Node >= 20, no dependencies, no network.
//
// - Every relative link (inline `[text](path)`, images, reference definitions) must name an
//   existing file or folder, relative to the linking file.
// - A `#anchor` on a link to a Markdown file, and an anchor-only link (`#anchor`, the same
//   file), must match a heading of that file under GitHub's slug rules: lowercase; drop
//   punctuation except hyphens, underscores and spaces; spaces become hyphens; a repeated
//   heading gets `-1`, `-2`, ... An anchor on a link to any other file must be a line anchor
//   (`#L12`, `#L12-L20`).
// - README.md is at most 12,288 bytes.
// - Every test SECURITY.md names exists (`citedTests`).
// http(s), mailto and other scheme links are not checked. Exit 1 listing every problem.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const README_MAX_BYTES = 12 * 1024;

/** The files to check, relative to the repository root. */
function documents() {
  const docsDir = path.join(root, "docs");
  const docs = fs.existsSync(docsDir)
    ? fs.readdirSync(docsDir).filter((name) => name.endsWith(".md")).sort().map((name) => `docs/${name}`)
    : [];
  return ["README.md", ...docs, "bench/README.md", "SECURITY.md", "fuzz/README.md"].filter((file) => fs.existsSync(path.join(root, file)));
}

/** The lines of `text` outside fenced code blocks, with their 1-based numbers. */
function proseLines(text) {
  const out = [];
  let fence = null;
  text.split(/\r?\n/).forEach((line, index) => {
    const marker = line.match(/^ {0,3}(`{3,}|~{3,})/);
    if (fence) {
      if (marker && marker[1][0] === fence[0] && marker[1].length >= fence.length && !line.slice(marker[0].length).trim()) {
        fence = null;
      }
      return;
    }
    if (marker) {
      fence = marker[1];
      return;
    }
    out.push({ number: index + 1, line });
  });
  return out;
}

/** A line with its inline code spans blanked out (their text is not Markdown). */
function withoutCodeSpans(line) {
  return line.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (span) => " ".repeat(span.length));
}

/** GitHub's heading slug. */
function slug(heading) {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
    .replace(/ /g, "-");
}

/** The heading text as GitHub renders it to plain text: no markup, links reduced to their text. */
function headingText(raw) {
  return raw
    .replace(/\s+#+\s*$/, "")
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/!?\[([^\]]*)\]\[[^\]]*\]/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/[`*]/g, "")
    .replace(/(^|\s)_+|_+(\s|$)/g, "$1$2");
}

const anchorCache = new Map();

/** Every anchor a Markdown file offers: its headings' slugs and explicit `id`/`name` anchors. */
function anchorsOf(file) {
  if (anchorCache.has(file)) return anchorCache.get(file);
  const anchors = new Set();
  const seen = new Map();
  const lines = proseLines(fs.readFileSync(file, "utf8"));
  lines.forEach(({ line }, i) => {
    let text = null;
    const atx = line.match(/^ {0,3}#{1,6}(?:\s+(.*))?$/);
    if (atx) text = atx[1] ?? "";
    const next = lines[i + 1];
    if (!atx && next && next.number === lines[i].number + 1 && /^ {0,3}(=+|-+)\s*$/.test(next.line) && line.trim()
      && !/^ {0,3}([-*+]|\d+[.)])\s/.test(line)) {
      text = line;
    }
    if (text !== null) {
      const base = slug(headingText(text));
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const match of line.matchAll(/<[a-z]+[^>]*\s(?:id|name)="([^"]+)"/gi)) anchors.add(match[1]);
  });
  anchorCache.set(file, anchors);
  return anchors;
}

/** The link targets of one line: inline links and images, and reference definitions. */
function targetsOf(line) {
  const targets = [];
  const definition = line.match(/^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/);
  if (definition) targets.push(definition[1]);
  const inline = /!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
  for (const match of line.matchAll(inline)) targets.push(match[1]);
  return targets.map((target) => target.replace(/^<(.*)>$/, "$1"));
}

function check() {
  const problems = [];
  const files = documents();
  for (const relative of files) {
    const file = path.join(root, relative);
    for (const { number, line } of proseLines(fs.readFileSync(file, "utf8"))) {
      for (const target of targetsOf(withoutCodeSpans(line))) {
        const where = `${relative}:${number}: (${target})`;
        if (!target) {
          problems.push(`${where} empty link`);
          continue;
        }
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//")) continue;
        const hash = target.indexOf("#");
        const rawPath = hash === -1 ? target : target.slice(0, hash);
        const anchor = hash === -1 ? null : target.slice(hash + 1);
        let linked = file;
        if (rawPath) {
          let decoded;
          try {
            decoded = decodeURIComponent(rawPath.replace(/\?.*$/, ""));
          } catch {
            problems.push(`${where} malformed percent-encoding`);
            continue;
          }
          linked = decoded.startsWith("/") ? path.join(root, decoded) : path.resolve(path.dirname(file), decoded);
          if (!fs.existsSync(linked)) {
            problems.push(`${where} no such file: ${path.relative(root, linked) || "."}`);
            continue;
          }
        }
        if (anchor === null) continue;
        if (!anchor) {
          problems.push(`${where} empty anchor`);
          continue;
        }
        if (fs.statSync(linked).isDirectory()) {
          problems.push(`${where} an anchor on a folder`);
        } else if (linked.endsWith(".md")) {
          let wanted;
          try {
            wanted = decodeURIComponent(anchor);
          } catch {
            wanted = anchor;
          }
          if (!anchorsOf(linked).has(wanted)) {
            problems.push(`${where} no heading #${anchor} in ${path.relative(root, linked)}`);
          }
        } else if (!/^L\d+(-L\d+)?$/.test(anchor)) {
          problems.push(`${where} #${anchor} is not a line anchor, and ${path.relative(root, linked)} has no headings`);
        }
      }
    }
  }
  const readme = path.join(root, "README.md");
  if (!fs.existsSync(readme)) {
    problems.push("README.md is missing");
  } else {
    const bytes = fs.statSync(readme).size;
    if (bytes > README_MAX_BYTES) problems.push(`README.md is ${bytes} bytes, over the ${README_MAX_BYTES}-byte limit`);
  }
  problems.push(...citedTests());
  return { files, problems };
}

/** Every file of `dir` (recursively) whose name ends with one of `endings`, as text. */
function sources(dir, endings) {
  const full = path.join(root, dir);
  if (!fs.existsSync(full)) return "";
  return fs.readdirSync(full, { recursive: true })
    .filter((name) => endings.some((ending) => name.endsWith(ending)) && !name.split(path.sep).some((part) => part === "node_modules" || part === "target"))
    .map((name) => fs.readFileSync(path.join(full, name), "utf8"))
    .join("\n");
}

/**
 * SECURITY.md names the tests behind each claim; a renamed or deleted test must not leave a
 * claim pointing at nothing. A code span that is a snake_case name with three or more
 * underscores must be a `fn` in src/ or fuzz/; a code span of three or more words on a line
 * that links a `.mjs` suite must appear in tests/ (an `it(...)` name).
 */
function citedTests() {
  const file = path.join(root, "SECURITY.md");
  if (!fs.existsSync(file)) return [];
  const rust = sources("src", [".rs"]) + sources("fuzz", [".rs"]);
  const suites = sources("tests", [".mjs"]);
  const problems = [];
  for (const { line, number } of proseLines(fs.readFileSync(file, "utf8"))) {
    for (const [, span] of line.matchAll(/`([^`]+)`/g)) {
      if (/^[a-z0-9_]+$/.test(span) && (span.match(/_/g) ?? []).length >= 3) {
        if (!new RegExp(`\\bfn ${span}\\b`).test(rust)) problems.push(`SECURITY.md:${number}: no test \`fn ${span}\` in src/ or fuzz/`);
      } else if (/\.mjs/.test(line) && span.trim().split(/\s+/).length >= 3 && !/^(cargo|make|node|npm|bash) /.test(span) && !/^[A-Z][\w-]*: /.test(span)) {
        if (!suites.includes(span) && !suites.includes(span.replaceAll("\\\\", "\\"))) problems.push(`SECURITY.md:${number}: no test named "${span}" in tests/`);
      }
    }
  }
  return problems;
}

const { files, problems } = check();
if (problems.length) {
  console.error(`check-docs: ${problems.length} problem${problems.length === 1 ? "" : "s"}:`);
  for (const problem of problems) console.error(`  ${problem}`);
  process.exit(1);
}
console.log(`check-docs: ${files.join(", ")}: every relative link resolves; README.md within ${README_MAX_BYTES} bytes`);
