#!/usr/bin/env python3
"""Draws a results file of bench/run.sh as a PNG.

usage: plot.py RESULTS.json OUT.png

Top two rows: p50/p95/p99 per operation for each mix, capacity (closed loop) on the left and
the fixed rate (coordinated omission corrected) on the right, on a log scale with the issue's
targets marked. Bottom row: throughput beside the ceilings measured in the same run, and the
CPU each program used during each test.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PERCENTILES = [("p50", "#8ecae6"), ("p95", "#219ebc"), ("p99", "#023047")]
PROGRAMS = {  # how /proc names them → legend label
    "workerd": "workerd",
    "postgres": "postgres",
    "pgbouncer": "pgbouncer",
    "task-api-loadge": "load generator",
    "node": "node (Miniflare)",
    "kworker": "kernel workers",
}


def latency_panel(ax, test, field, title, targets=()):
    if not test:
        ax.set_title(f"{title}\n(missing)")
        return
    rows = [("overall", test["overall"])] + sorted(
        test["operations"].items(), key=lambda kv: -kv[1]["requests"]
    )
    width = 0.26
    for i, (name, color) in enumerate(PERCENTILES):
        values = [max(row[field][name], 0.01) for _, row in rows]
        bars = ax.bar([x + (i - 1) * width for x in range(len(rows))], values, width,
                      label=name, color=color)
        ax.bar_label(bars, labels=[f"{v:.1f}" if v < 100 else f"{v:.0f}" for v in values],
                     fontsize=6, padding=1)
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([f"{name}\n{row['rps']:.0f}/s" for name, row in rows], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms")
    errors = test["overall"]["errors"]
    ax.set_title(f"{title}\n{test['overall']['rps']:.0f} req/s served, {errors} errors", fontsize=10)
    for value, label in targets:
        ax.axhline(value, color="#fb8500", linestyle="--", linewidth=1)
        ax.text(len(rows) - 0.5, value, f" {label}", color="#fb8500", fontsize=7,
                va="bottom", ha="right")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(axis="y", which="both", alpha=0.2)


def throughput_panel(ax, result):
    tests, ceilings = result["tests"], result["ceilings"]
    rate = lambda t: (t or {}).get("overall", {}).get("rps", 0)  # noqa: E731
    bars = [
        ("read mix, capacity", rate(tests.get("read_capacity")), "#219ebc"),
        ("write mix, capacity", rate(tests.get("write_capacity")), "#219ebc"),
        ("ceiling: 401 before any database work", rate(ceilings.get("trivial_route")), "#adb5bd"),
        ("ceiling: router's 404", rate(ceilings.get("not_found_route")), "#adb5bd"),
        ("ceiling: /health (pooled connection, select 1)", rate(ceilings.get("health_route")),
         "#adb5bd"),
        ("ceiling: pgbench -S via PgBouncer (tps)",
         ceilings["pgbench_select_only"].get("tps") or 0, "#adb5bd"),
    ]
    y = range(len(bars))
    drawn = ax.barh(list(y), [b[1] for b in bars], color=[b[2] for b in bars])
    ax.bar_label(drawn, labels=[f"{b[1]:,.0f}" for b in bars], fontsize=8, padding=2)
    ax.set_yticks(list(y))
    ax.set_yticklabels([b[0] for b in bars], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    for value, label in [(1500, "target 1,500"), (2500, "stretch 2,500")]:
        ax.axvline(value, color="#fb8500", linestyle="--", linewidth=1)
        ax.text(value, len(bars) - 0.5, label, color="#fb8500", fontsize=7, rotation=90,
                va="bottom", ha="right")
    connections = result["settings"].get("connections")
    ax.set_title(f"Throughput at {connections} connections beside the ceilings (log scale)",
                 fontsize=10)
    ax.set_xlabel("requests (transactions) per second")


def cpu_panel(ax, result):
    phases = [("trivial", "401"), ("not_found", "404"), ("health", "/health"),
              ("read_capacity", "read cap."),
              ("read_fixed", "read fixed"), ("write_capacity", "write cap."),
              ("write_fixed", "write fixed")]
    phases = [(k, label) for k, label in phases if result["cpu"].get(k)]
    colors = ["#023047", "#219ebc", "#8ecae6", "#ffb703", "#fb8500", "#6c757d", "#ced4da"]
    labels = list(PROGRAMS.values()) + ["other"]
    bottoms = [0.0] * len(phases)
    for label, color in zip(labels, colors):
        values = []
        for key, _ in phases:
            used = result["cpu"][key]["by_program"]
            if label == "other":
                # Other programs, plus busy time no living process accounts for (interrupt
                # work, processes that exited during the window).
                unattributed = max(0, result["cpu"][key]["busy_cores"] - sum(used.values()))
                values.append(sum(v for k, v in used.items() if k not in PROGRAMS) + unattributed)
            else:
                values.append(sum(v for k, v in used.items() if PROGRAMS.get(k) == label))
        ax.bar(range(len(phases)), values, bottom=bottoms, color=color, label=label)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    cores = result["machine"]["nproc"]
    ax.axhline(cores, color="black", linewidth=1)
    ax.set_xticks(range(len(phases)))
    ax.set_xticklabels([label for _, label in phases], fontsize=8)
    ax.set_ylabel("cores busy")
    ax.set_ylim(0, cores * 1.15)
    ax.set_title(f"CPU per program during each test ({cores} cores)", fontsize=10)
    ax.legend(fontsize=7, loc="upper right", ncol=3)


def main():
    result = json.loads(open(sys.argv[1]).read())
    tests, s, m = result["tests"], result["settings"], result["machine"]
    fig, axes = plt.subplots(3, 2, figsize=(14, 14))
    closed = f"closed loop, {s.get('connections')} connections"
    fixed = f"fixed {s.get('rate')} req/s, corrected"
    goals = [(20, "p95 target 20 ms"), (50, "p99 target 50 ms")]
    latency_panel(axes[0][0], tests.get("read_capacity"), "latency_ms", f"Read mix, {closed}")
    latency_panel(axes[0][1], tests.get("read_fixed"), "corrected_latency_ms",
                  f"Read mix, {fixed}", goals)
    latency_panel(axes[1][0], tests.get("write_capacity"), "latency_ms", f"Write mix, {closed}")
    latency_panel(axes[1][1], tests.get("write_fixed"), "corrected_latency_ms",
                  f"Write mix, {fixed}", goals)
    throughput_panel(axes[2][0], result)
    cpu_panel(axes[2][1], result)
    v = result["versions"]
    fig.suptitle(
        f"Task API benchmark {result['time']} — {m['nproc']} cores ({m['cpu_model']}), "
        f"{m['memory_gib']} GiB\nworkerd {v['workerd']}, PgBouncer {v['pgbouncer']} "
        f"(transaction pooling), PostgreSQL {v['postgresql']}, Goose {v['goose']}",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(sys.argv[2], dpi=90)


if __name__ == "__main__":
    main()
