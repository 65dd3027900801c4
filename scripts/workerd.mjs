// The workerd binary that `make dev` runs: wrangler's own (wrangler 4.164 bundles workerd
// 1.20261117), where Miniflare 4, the newest stable Miniflare and the API the tests and the
// benchmark drive workerd through, carries an older one (1.20260730). Importing this module
// points Miniflare at wrangler's binary (Miniflare reads MINIFLARE_WORKERD_PATH when it
// starts workerd), so the tests, the benchmark and `make dev` run one runtime. An explicit
// MINIFLARE_WORKERD_PATH in the environment wins.
import { createRequire } from "node:module";

const fromWrangler = createRequire(createRequire(import.meta.url).resolve("wrangler/package.json"));
const workerd = fromWrangler("workerd");

process.env.MINIFLARE_WORKERD_PATH ??= workerd.default;

/** The version of wrangler's workerd (what runs unless MINIFLARE_WORKERD_PATH was set). */
export const workerdVersion = workerd.version;
