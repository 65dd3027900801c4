#!/usr/bin/env python3
"""Where the CPU goes during a load phase: the cores each program used, from /proc.

usage: cpu.py --delay S --seconds S --out FILE [--pooler URL --database NAME]

Sleeps `delay` seconds (the load generator's ramp-up), reads every process's CPU time
(user + system, all threads) and the machine's, sleeps `seconds`, reads again, and writes
the difference as cores used per program name (`comm`): 1.0 is one core busy all the time.
With --pooler (PgBouncer's admin console) it also reads SHOW STATS for the database at both
ends and reports the server transactions and queries per second in the same window: divided
by the requests per second, the database round trips per request.

Processes that exited during the window are missing (their share shows
only in `busy_cores`); the pooled PostgreSQL backends,
workerd, PgBouncer and the load generator all live through it.
"""
import argparse
import json
import os
import subprocess
import time

TICKS = os.sysconf("SC_CLK_TCK")


def processes():
    """{pid: (comm, cpu ticks)} for every process readable now."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # comm is in parentheses and may hold spaces; the fields after it are space separated.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry)] = (comm, int(fields[11]) + int(fields[12]))  # utime + stime
    return found


FIELDS = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]


def machine():
    """The machine's ticks since boot by kind, over all cores (guest time is already in user)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1 : 1 + len(FIELDS)]]
    return dict(zip(FIELDS, values))


def pooler_stats(url, database):
    """(transactions, queries, transaction µs, wait µs) so far for `database`, from PgBouncer."""
    out = subprocess.run(["psql", url, "-Atc", "show stats"], capture_output=True, text=True,
                         timeout=10).stdout
    for line in out.splitlines():
        fields = line.split("|")
        if fields[0] == database:
            return [int(fields[i]) for i in (1, 2, 5, 7)]
    return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=3)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--pooler")
    parser.add_argument("--database")
    args = parser.parse_args()
    pooler = (lambda: pooler_stats(args.pooler, args.database)) if args.pooler else (lambda: None)

    time.sleep(args.delay)
    start, machine0, pool0, t0 = processes(), machine(), pooler(), time.monotonic()
    time.sleep(args.seconds)
    end, machine1, pool1, t1 = processes(), machine(), pooler(), time.monotonic()
    wall = t1 - t0
    spent = {kind: machine1[kind] - machine0[kind] for kind in FIELDS}
    total = sum(spent.values())
    cores = os.cpu_count()
    share = lambda *kinds: round(sum(spent[k] for k in kinds) / total * cores, 2)  # noqa: E731

    by_program = {}
    for pid, (comm, ticks) in end.items():
        # By pid: a kernel worker's name changes with the work it does. A process that was
        # not there at the start started during the window, so all its time counts.
        used = ticks - start[pid][1] if pid in start else ticks
        name = "kworker" if comm.startswith("kworker/") else comm
        by_program[name] = by_program.get(name, 0) + used / TICKS / wall
    result = {
        "seconds": round(wall, 2),
        "cores": cores,
        # Busy = what processes ran (user, system) plus interrupt work, which loopback TCP
        # does in softirq and /proc charges to no process; steal is time the hypervisor took.
        "busy_cores": share("user", "nice", "system", "irq", "softirq"),
        "softirq_cores": share("irq", "softirq"),
        "steal_cores": share("steal"),
        "idle_cores": share("idle", "iowait"),
        "by_program": {
            name: round(value, 3)
            for name, value in sorted(by_program.items(), key=lambda kv: -kv[1])
            if value >= 0.005
        },
    }
    if pool0 and pool1:
        xacts, queries, xact_us, wait_us = (b - a for a, b in zip(pool0, pool1))
        result["pooler"] = {
            "transactions_per_s": round(xacts / wall, 1),
            "queries_per_s": round(queries / wall, 1),
            "avg_transaction_ms": round(xact_us / max(xacts, 1) / 1000, 2),
            "avg_wait_for_server_ms": round(wait_us / max(xacts, 1) / 1000, 2),
        }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
