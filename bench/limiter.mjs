// The benchmark's stand-in for a `[[ratelimits]]` binding, loaded into the worker's own isolate
// as a wrapped binding (bench/worker.mjs): `limit({ key })` counts the key's calls in the
// current period and answers `{ success }`, as the Workers Rate Limiting binding does.
//
// Why not Miniflare's: Miniflare 4 simulates the binding with a service that forwards every
// call, as an HTTP request with JSON both ways, to a Durable Object. That is two more worker
// invocations per API request; in this benchmark it cost about a sixth of workerd's time and
// most of the fixed-rate test's tail (bench/README.md). In production the binding is a counter
// kept on the same machine, with no request of its own. `BENCH_LIMITER=miniflare` measures with
// Miniflare's simulation instead.
//
// env (the wrapped binding's inner bindings): `limit` (calls allowed per key and period) and
// `period` (seconds: 10 or 60, as in wrangler.toml).
export default function rateLimiter(env) {
  return new Ratelimit(Number(env.limit), Number(env.period) * 1000);
}

// workers-rs hands a binding to the worker as a rate limiter only when its constructor is named
// "Ratelimit", as the runtime's is; a plain object was silently taken for a missing binding, and
// the worker then limited nothing (runs before this fix made no limiter calls at all).
class Ratelimit {
  #limit;
  #periodMs;
  #epoch = -1;
  #counts = new Map();

  constructor(limit, periodMs) {
    this.#limit = limit;
    this.#periodMs = periodMs;
  }

  async limit(options) {
    const key = options?.key;
    if (typeof key !== "string") throw new TypeError("limit: options.key must be a string");
    const now = Math.floor(Date.now() / this.#periodMs);
    if (now !== this.#epoch) {
      this.#epoch = now;
      this.#counts.clear();
    }
    const used = this.#counts.get(key) ?? 0;
    if (used >= this.#limit) return { success: false };
    this.#counts.set(key, used + 1);
    return { success: true };
  }
}
