#!/usr/bin/env python3
"""Gathers one `make bench` run into a results file and prints the table.

usage: report.py --work DIR --out FILE --database-url URL --pgbouncer-log FILE [--setting k=v]…

Reads what bench/run.sh left in its work folder: the load generator's summaries
(<phase>.json), the CPU samples (<phase>.cpu.json), pgbench's output, the worker's error log;
adds the machine and the versions of everything measured, and writes FILE (JSON).
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["read-capacity", "read-fixed", "write-capacity", "write-fixed"]


def run(*command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def package_version(name):
    try:
        return json.loads((ROOT / "node_modules" / name / "package.json").read_text())["version"]
    except OSError:
        return None


def locked_version(lock, crate):
    match = re.search(rf'name = "{crate}"\nversion = "([^"]+)"', lock.read_text())
    return match.group(1) if match else None


def machine():
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kib = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.M).group(1))
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": run("sh", "-c", '. /etc/os-release && echo "$PRETTY_NAME"'),
    }


def versions(database_url):
    return {
        # The runtime bench/worker.mjs starts: wrangler's workerd, the one `make dev` runs.
        "workerd": package_version("wrangler/node_modules/workerd"),
        "miniflare": package_version("miniflare"),
        "wrangler": package_version("wrangler"),
        "node": run("node", "--version"),
        "pgbouncer": run("pgbouncer", "--version").splitlines()[0].split()[-1],
        "postgresql": run("psql", database_url, "-Atc", "show server_version"),
        "pgbench": (re.search(r"\d+\.\d+", run("pgbench", "--version")) or [None])[0],
        "goose": locked_version(ROOT / "bench/loadgen/Cargo.lock", "goose"),
    }


def worker_build():
    """Which build was measured: the wasm's hash and time, and the commit it sits on."""
    wasm = ROOT / "build/index_bg.wasm"
    digest = hashlib.sha256(wasm.read_bytes()).hexdigest()[:12] if wasm.exists() else None
    built = (
        datetime.datetime.fromtimestamp(wasm.stat().st_mtime, datetime.timezone.utc).isoformat()
        if wasm.exists()
        else None
    )
    dirty = bool(run("git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "Cargo.toml"))
    return {
        "wasm_sha256": digest,
        "built_at": built,
        "commit": run("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"),
        "uncommitted_src_changes": dirty,
    }


def pgbench(text):
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", text, re.M)
    latency = re.search(r"^latency average = ([\d.]+) ms", text, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", text, re.M)
    clients = re.search(r"^number of clients: (\d+)", text, re.M)
    return {
        "tps": round(float(tps.group(1)), 1) if tps else None,
        "latency_avg_ms": float(latency.group(1)) if latency else None,
        "failed": int(failed.group(1)) if failed else None,
        "clients": int(clients.group(1)) if clients else None,
    }


def worker_errors(path):
    """The worker's error lines (5xx) by error code, and any prepared-statement failure."""
    codes, prepared = {}, 0
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            if "prepared statement" in line:
                prepared += 1
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and entry.get("level") == "error":
                code = entry.get("error", "unknown")
                codes[code] = codes.get(code, 0) + 1
    return codes, prepared


def load(path):
    return json.loads(path.read_text()) if path.exists() else None


def build(args):
    work = Path(args.work)
    error_codes, prepared = worker_errors(work / "worker.log")
    pgbouncer_log = Path(args.pgbouncer_log)
    if pgbouncer_log.exists():
        prepared += pgbouncer_log.read_text(errors="replace").count("prepared statement")
    settings = dict(s.split("=", 1) for s in args.setting)
    settings = {k: (int(v) if v.isdigit() else v) for k, v in settings.items()}
    phases = {name: load(work / f"{name}.json") for name in TESTS}
    return {
        "schema": 1,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(args.database_url),
        "worker_build": worker_build(),
        "settings": settings,
        "ceilings": {
            "trivial_route": load(work / "trivial.json"),
            "not_found_route": load(work / "not-found.json"),
            "health_route": load(work / "health.json"),
            "pgbench_select_only": pgbench((work / "pgbench.txt").read_text()),
        },
        "tests": {name.replace("-", "_"): phases[name] for name in TESTS},
        "cpu": {
            name.replace("-", "_"): load(work / f"{name}.cpu.json")
            for name in ["trivial", "not-found", "health"] + TESTS
        },
        "checks": {
            "worker_error_lines_by_code": error_codes,
            "prepared_statement_errors": prepared,
        },
    }


def table(result):
    m, v, s = result["machine"], result["versions"], result["settings"]
    lines = [
        f"task API benchmark, {result['time']}",
        f"machine: {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}",
        f"workerd {v['workerd']} (wrangler {v.get('wrangler')}'s, via Miniflare {v['miniflare']}), "
        f"PgBouncer {v['pgbouncer']} "
        f"(transaction pooling, {s.get('pool_size')} server connections), "
        f"PostgreSQL {v['postgresql']}, Goose {v['goose']}",
    ]
    if s.get("entry") or s.get("worker"):
        lines.append(
            f"worker: {s.get('workers', 1)} workerd process(es), entry {s.get('entry', 'miniflare')}, "
            f"rate-limit bindings {s.get('limiter', 'miniflare')} (bench/README.md), "
            f"{s.get('worker', 'one worker for the whole run')}, {s.get('warmup_s')} s warm-up each"
        )
    if s.get("rate_limits") == "off":
        lines.append("NOTE: run without the rate-limit bindings (BENCH_RATE_LIMITS=off), a diagnostic")
    def ceiling(key):
        overall = (result["ceilings"].get(key) or {}).get("overall", {})
        return f"{overall.get('rps', 'n/a')} req/s ({overall.get('errors', 'n/a')} errors)"

    pgb = result["ceilings"]["pgbench_select_only"]
    lines.append(
        f"ceilings: GET /api/nobody/tasks without a token (401) {ceiling('trivial_route')}; "
        f"GET / (404) {ceiling('not_found_route')}; "
        f"GET /health (a pooled connection, select 1) {ceiling('health_route')}; "
        f"pgbench -S through PgBouncer {pgb['tps']} tps ({pgb['clients']} clients)"
    )
    header = f"{'':24}{'req/s':>9}{'errors':>8}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}  ms"
    titles = {
        "read_capacity": f"read mix, capacity ({s.get('connections')} connections, closed loop)",
        "read_fixed": f"read mix, fixed {s.get('rate')} req/s (latency corrected)",
        "write_capacity": f"write mix, capacity ({s.get('connections')} connections, closed loop)",
        "write_fixed": f"write mix, fixed {s.get('rate')} req/s (latency corrected)",
    }
    for key, title in titles.items():
        test = result["tests"].get(key)
        lines += ["", title, header]
        if not test:
            lines.append("  (missing)")
            continue
        field = "corrected_latency_ms" if key.endswith("fixed") else "latency_ms"
        offered = s.get("rate")
        # Paced sends serve the offered rate to within a percent when the worker keeps up.
        if key.endswith("fixed") and isinstance(offered, int) and test["overall"]["rps"] < 0.98 * offered:
            lines[-2] += (f" — only {test['overall']['rps']:.0f} req/s served: the worker fell "
                          f"behind, so these are latencies under overload")
        rows = [("overall", test["overall"])] + sorted(
            test["operations"].items(), key=lambda kv: -kv[1]["requests"]
        )
        for name, row in rows:
            lat = row[field]
            lines.append(
                f"  {name:22}{row['rps']:>9.1f}{row['errors']:>8}"
                f"{lat['p50']:>8.2f}{lat['p95']:>8.2f}{lat['p99']:>8.2f}{lat['max']:>8.1f}"
            )
        if key.endswith("fixed"):
            raw = test["overall"]["latency_ms"]
            lines.append(f"  (uncorrected, from sending: p50 {raw['p50']:.2f}, p95 {raw['p95']:.2f}, "
                         f"p99 {raw['p99']:.2f}, max {raw['max']:.1f})")
        pool = (result["cpu"].get(key) or {}).get("pooler")
        if pool and test["overall"]["rps"]:
            lines.append(
                f"  database: {pool['transactions_per_s'] / test['overall']['rps']:.2f} "
                f"transactions per request, {pool['avg_transaction_ms']} ms each at PgBouncer, "
                f"{pool['avg_wait_for_server_ms']} ms waiting for a server connection"
            )
        messages = [m for m in test.get("error_messages", []) if not m[0].startswith("CUSTOM")]
        if messages:
            lines.append(f"  errors: {messages[:3]}")
    cpu = result["cpu"].get("read_capacity")
    if cpu:
        top = ", ".join(f"{k} {v:.2f}" for k, v in list(cpu["by_program"].items())[:6])
        lines += ["", f"CPU during the read capacity test (cores of {cpu['cores']}; busy "
                  f"{cpu['busy_cores']}): {top}"]
    checks = result["checks"]
    lines.append(
        f"worker 5xx log lines: {checks['worker_error_lines_by_code'] or 'none'}; "
        f"'prepared statement' errors: {checks['prepared_statement_errors']}"
    )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--pgbouncer-log", required=True)
    parser.add_argument("--setting", action="append", default=[])
    args = parser.parse_args()
    result = build(args)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    missing = [k for k, v in result["tests"].items() if v is None]
    if missing:
        raise SystemExit(f"missing results: {missing}")


if __name__ == "__main__":
    main()
