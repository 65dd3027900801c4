#!/usr/bin/env node
// `make config-check`: wrangler.toml's deployable environments, read the way `wrangler deploy
// --env …` reads them (wrangler's own config reader, inheritance included). Bindings and [vars]
// are not inherited, so an environment that forgets one deploys without it: a missing rate-limit
// binding switches that limit off, a missing Hyperdrive binding fails every request. Checks:
//
// - staging and production exist, each with its own Worker name (not the development one);
// - each has the HYPERDRIVE binding; ids differ between them (the all-zero placeholder aside);
// - each has the rate-limit bindings of the top level (the names the tests use), by the same
//   names, with namespace_ids unique across development, staging and production;
// - each inherits [assets] (the /docs page) and the build command, and observability is on;
// - keep_vars is on, so a deploy keeps the variables the operator set outside the file;
// - no [vars] entry is empty (it would set the variable to "" over the operator's value) or
//   names a secret (secrets go through `wrangler secret put`, never into the file);
// - wrangler reports no warning for the file.
// Exit 1 listing every problem. An argument checks another file instead of wrangler.toml.
//
//   --deployable ENV   before a real deploy: the checks above, then exit 1 while ENV still has
//                      the placeholder Hyperdrive id; prints ENV's Worker name
import path from "node:path";
import { fileURLToPath } from "node:url";
import { experimental_readRawConfig, unstable_readConfig } from "wrangler";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const ENVIRONMENTS = ["staging", "production"];
const SECRETS = ["JWT_SECRET", "BETTER_AUTH_SECRET", "CURSOR_SECRET"];
const PLACEHOLDER_ID = /^0+$/;

/** wrangler's reading of the file for `env` (undefined: the top level), and what it warned. */
function read(configPath, env) {
  const warnings = [];
  const original = { warn: console.warn, error: console.error };
  console.warn = console.error = (...args) => warnings.push(args.join(" "));
  try {
    return { config: unstable_readConfig({ config: configPath, env }, {}), warnings };
  } finally {
    Object.assign(console, original);
  }
}

export function problems(configPath = path.join(root, "wrangler.toml")) {
  const found = [];
  const { rawConfig } = experimental_readRawConfig({ config: configPath });
  const top = read(configPath, undefined);
  for (const warning of top.warnings) found.push(`wrangler warns about the top level: ${warning}`);
  if (rawConfig.keep_vars !== true) found.push("keep_vars must be true, or a deploy deletes the variables set outside the file");
  const limitNames = top.config.ratelimits.map((limit) => limit.name).sort();
  const namespaces = new Map(top.config.ratelimits.map((limit) => [limit.namespace_id, "the top level"]));
  const hyperdriveIds = new Map();
  const names = new Set([top.config.name]);
  const checkVars = (where, vars) => {
    for (const [name, value] of Object.entries(vars ?? {})) {
      if (SECRETS.includes(name)) found.push(`${where}: ${name} is a secret; set it with wrangler secret put, not in [vars]`);
      if (value === "") found.push(`${where}: ${name} = "" would overwrite the operator's value with nothing; leave it out`);
    }
  };
  checkVars("the top level", rawConfig.vars);
  for (const env of ENVIRONMENTS) {
    if (!rawConfig.env?.[env]) {
      found.push(`[env.${env}] is missing`);
      continue;
    }
    const { config, warnings } = read(configPath, env);
    const where = `[env.${env}]`;
    for (const warning of warnings) found.push(`wrangler warns about ${where}: ${warning}`);
    if (!rawConfig.env[env].name || names.has(config.name)) found.push(`${where}: needs a Worker name of its own (has ${config.name})`);
    names.add(config.name);
    const hyperdrive = config.hyperdrive.filter((binding) => binding.binding === "HYPERDRIVE");
    if (hyperdrive.length !== 1) found.push(`${where}: needs exactly one HYPERDRIVE binding`);
    for (const { id } of hyperdrive) {
      if (!PLACEHOLDER_ID.test(id) && hyperdriveIds.has(id)) found.push(`${where}: Hyperdrive id ${id} is also ${hyperdriveIds.get(id)}'s`);
      hyperdriveIds.set(id, where);
    }
    const envLimits = config.ratelimits.map((limit) => limit.name).sort();
    if (envLimits.join() !== limitNames.join()) {
      found.push(`${where}: rate limits ${envLimits.join(", ") || "none"}; the worker reads ${limitNames.join(", ")}`);
    }
    for (const limit of config.ratelimits) {
      if (namespaces.has(limit.namespace_id)) {
        found.push(`${where}: ${limit.name}'s namespace_id ${limit.namespace_id} is also used by ${namespaces.get(limit.namespace_id)}`);
      }
      namespaces.set(limit.namespace_id, `${where} ${limit.name}`);
    }
    if (JSON.stringify(config.assets) !== JSON.stringify(top.config.assets)) found.push(`${where}: [assets] differs from the top level's`);
    if (config.build?.command !== top.config.build?.command) found.push(`${where}: the build command differs from the top level's`);
    if (config.observability?.enabled !== true) found.push(`${where}: observability is off`);
    checkVars(where, rawConfig.env[env].vars);
  }
  return found;
}

/** What scripts/deploy.sh and scripts/rollout.sh need of `env`: its Worker name, and whether it
 *  still has a placeholder that must be replaced before a real deploy. */
export function deployable(env) {
  if (!ENVIRONMENTS.includes(env)) throw new Error(`unknown environment ${env}: ${ENVIRONMENTS.join(" or ")}`);
  const { config } = read(path.join(root, "wrangler.toml"), env);
  const placeholders = [];
  for (const { binding, id } of config.hyperdrive) {
    if (PLACEHOLDER_ID.test(id)) placeholders.push(`${binding}'s Hyperdrive id is the placeholder ${id}`);
  }
  const origins = (config.vars?.CORS_ALLOWED_ORIGINS ?? "").split(",").filter((origin) => /\.example(:\d+)?\/?$/.test(origin.trim()));
  return { name: config.name, placeholders, exampleOrigins: origins };
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === "--deployable") {
  // Refuses a real deploy while a problem or a placeholder is left; placeholder origins only
  // warn (they match no browser, so CORS is in effect off).
  const found = problems();
  const { name, placeholders, exampleOrigins } = deployable(process.argv[3]);
  for (const origin of exampleOrigins) console.error(`warning: [env.${process.argv[3]}.vars] CORS_ALLOWED_ORIGINS has the placeholder ${origin.trim()}`);
  found.push(...placeholders.map((text) => `[env.${process.argv[3]}]: ${text}; replace it (docs/operations.md, "Deploying to Cloudflare with Neon")`));
  if (found.length) {
    console.error(`wrangler.toml:\n${found.map((problem) => `  ${problem}`).join("\n")}`);
    process.exit(1);
  }
  console.log(name);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2] ? path.resolve(process.argv[2]) : undefined;
  const found = problems(file);
  if (found.length) {
    console.error(`${file ?? "wrangler.toml"}:\n${found.map((problem) => `  ${problem}`).join("\n")}`);
    process.exit(1);
  }
  console.log(`wrangler.toml: ${ENVIRONMENTS.join(" and ")} are complete`);
}
