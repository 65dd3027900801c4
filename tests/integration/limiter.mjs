// The tests' stand-in for the worker's `[[ratelimits]]` bindings (READ_RATE_LIMITER,
// WRITE_RATE_LIMITER, ADDRESS_RATE_LIMITER), loaded into the worker's own isolate as a Miniflare
// wrapped binding (harness.mjs `startWorker`). `limit({ key })` answers `{ success }`, as the
// Workers Rate Limiting binding does: `limit` calls per key, then refusals.
//
// Why not Miniflare's simulation: it counts in fixed windows aligned to the wall clock, so every
// budget refills at each minute boundary, wherever a test is in the sequence that spends it;
// tests had to wait for a boundary to pass and retry when one passed anyway. Here a key's budget
// refills only `period` seconds after it ran out (after the first call it refused), never in the
// middle of spending it: a test that spends a budget sees the refusal whatever the machine's
// load, and a test that wants the refill starts a worker with a short period and waits that long
// after the refusal. The worker's own `Retry-After: 60` (PERIOD_SECS in src/http/rate_limit.rs) does
// not depend on this period.
//
// Each call is also written to the isolate's stdout as one JSON line
// (`{"msg":"rate_limit","binding","key","success"}`), so tests can see which budgets a request
// spent; the request's own log line follows it on the same stream.
//
// env (the wrapped binding's inner bindings): `name` (the binding's name, for the log line),
// `limit` (calls allowed per key) and `period` (seconds from the refusal to the refill).
export default function rateLimiter(env) {
  return new Ratelimit(env.name, Number(env.limit), Number(env.period) * 1000);
}

// The class's name is what workers-rs checks before it hands a binding to the worker as a rate
// limiter (`Env::rate_limiter`: the constructor must be named "Ratelimit", as the runtime's is);
// with any other name the worker finds no binding and does not limit at all.
class Ratelimit {
  #name;
  #limit;
  #periodMs;
  /** key → { used, refusedAt }: calls allowed so far, and when the budget was first refused. */
  #budgets = new Map();

  constructor(name, limit, periodMs) {
    this.#name = name;
    this.#limit = limit;
    this.#periodMs = periodMs;
  }

  async limit(options) {
    const key = options?.key;
    if (typeof key !== "string") throw new TypeError("limit: options.key must be a string");
    const now = Date.now();
    let budget = this.#budgets.get(key);
    if (budget?.refusedAt !== undefined && now - budget.refusedAt >= this.#periodMs) budget = undefined;
    if (budget === undefined) {
      budget = { used: 0, refusedAt: undefined };
      this.#budgets.set(key, budget);
    }
    const success = budget.used < this.#limit;
    if (success) budget.used++;
    else budget.refusedAt ??= now;
    console.log(JSON.stringify({ msg: "rate_limit", binding: this.#name, key, success }));
    return { success };
  }
}
