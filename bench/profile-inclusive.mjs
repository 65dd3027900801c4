#!/usr/bin/env node
// The share of a V8 CPU profile's busy time (bench/profile.mjs writes the .cpuprofile) spent in
// frames whose function name matches each pattern, callees included: where bench/profile.mjs
// lists self time, this answers "what does the close (or the log line, or connect) cost in all".
// A sample counts once per pattern, however many matching frames its stack holds.
//
// usage: node bench/profile-inclusive.mjs FILE.cpuprofile LABEL=REGEX [LABEL=REGEX ...]
import fs from "node:fs";

const [file, ...specs] = process.argv.slice(2);
if (!file || specs.length === 0) {
  console.error("profile-inclusive.mjs: FILE.cpuprofile and at least one LABEL=REGEX");
  process.exit(2);
}
const patterns = specs.map((spec) => {
  const at = spec.indexOf("=");
  return { label: spec.slice(0, at), re: new RegExp(spec.slice(at + 1)) };
});
const profile = JSON.parse(fs.readFileSync(file, "utf8"));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const selfUs = new Map();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
let busy = 0;
const inclusive = patterns.map(() => 0);
for (const [id, us] of selfUs) {
  if (byId.get(id).callFrame.functionName === "(idle)") continue;
  busy += us;
  const names = [];
  for (let at = id; at; at = parent.get(at)) names.push(byId.get(at).callFrame.functionName);
  patterns.forEach(({ re }, k) => {
    if (names.some((name) => re.test(name))) inclusive[k] += us;
  });
}
console.log(`${(busy / 1e6).toFixed(2)} s busy; share of it, callees included:`);
patterns.forEach(({ label, re }, k) => {
  console.log(`  ${((100 * inclusive[k]) / (busy || 1)).toFixed(1).padStart(5)} %  ${label}  (/${re.source}/)`);
});
