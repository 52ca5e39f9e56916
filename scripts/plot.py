#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""plot.py DIR [PNG [TITLE]]: the tables (DIR/results.md) and the plot
(PNG, default DIR/bench.png, with gnuplot; TITLE over each panel instead of
the run's name) of one benchmark output directory of scripts/bench.sh (or
of scripts/demo.sh).

Per run (io, big, compute) and configuration: merged pages (pages_sharing)
at fixed checkpoints, merged-page-seconds, the sharing opportunities vmsim
counted (the most pages merging could free), pages scanned per merge, and
the time from I/O to merge of sampled I/O-derived duplicates; then the
goals; then the pread() cost of the hooks (instructions per call); then the qemu run (real QEMU
guests: pages saved across their RAM, time to kernel KSM's plateau, CPU
per saved page; its plot in DIR/qemu.png); then the scale run (CPU per page
and per batch, metadata per page, as processes, memory and CPUs grow; its
plot in DIR/scale.png)."""
import os
import re
import statistics
import subprocess
import sys

CHECKPOINTS = (10, 30, 60)
RUNS = (("io", "I/O workload"), ("share", "I/O workload, hint_scan_percent"),
        ("big", "I/O workload, 8x guest RAM"),
        ("io-direct", "I/O workload, O_DIRECT reads"),
        ("advisor", "I/O workload, ring of 256: fixed rates and the advisor"),
        ("zero", "I/O workload, zero-heavy guest memory"),
        ("smart", "I/O workload, smart_scan 1 and 0"),
        ("smart-compute", "computed identical data, smart_scan 1 and 0"),
        ("scope", "I/O workload, VMs in two cgroups: merge_scope global, cgroup, process"),
        ("compute", "computed (non-I/O) identical data"))
QEMU_MODES = (("threads", "aio=threads, the default: preadv() from QEMU thread pool"),
              ("direct", "cache=none: O_DIRECT"),
              ("io_uring", "aio=io_uring"))
QEMU_CHECKPOINTS = (30, 60, 120)
PLATEAU_SHARE = 0.95
ORDER = ("ksm", "ksm-z", "ksmpp-off", "ksmpp-h256", "ksmpp-h256-s200", "ksmpp-h256-s300", "ksmpp-h256-s400",
         "ksmpp-h256-adv", "ksmpp-off-ns", "ksmpp-h1k", "ksmpp-h4k", "ksmpp-h16k", "ksmpp",
         "ksmpp-ns", "ksmpp-z",
         "ksmpp-p10", "ksmpp-p25", "ksmpp-p50", "ksmpp-p75", "ksmpp-p100",
         "ksmpp-cgroup", "ksmpp-process")


def read_csv(path):
    with open(path) as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    head = rows[0]
    data = []
    for r in rows[1:]:
        if len(r) != len(head):
            continue  # a line cut by the console
        try:
            data.append({k: int(v) for k, v in zip(head, r)})
        except ValueError:
            continue
    return data


def read_kv(path):
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            for m in re.finditer(r"(\w+)=(\S+)", line):
                out[m.group(1)] = m.group(2)
            parts = line.split()
            if len(parts) == 2 and "=" not in line:
                out[parts[0]] = parts[1]
    return out


def configs_of(d):
    names = [f[:-4] for f in os.listdir(d) if f.endswith(".csv")]
    return sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else 99, n))


def at(data, t, key="merged"):
    rows = [r for r in data if r["t"] <= t]
    return rows[-1][key] if rows else None


def page_seconds(data, key="merged"):
    """Integral over the run (rows are 1 s apart), trapezoid rule."""
    vals = [max(r[key], 0) for r in data]
    return sum((a + b) / 2 for a, b in zip(vals, vals[1:]))


def merges_est(data):
    """Merges, estimated alike for every engine: the rises of
    pages_shared + pages_sharing from one second to the next."""
    tot = 0
    prev = None
    for r in data:
        v = max(r["merged"], 0) + max(r["shared"], 0)
        if prev is not None and v > prev:
            tot += v - prev
        prev = v
    return tot


def fmt(v, digits=0):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def lat(summary, key):
    v = summary.get(key)
    if v is None or v == "na":
        return "n/a"
    if v == "never":
        return "never"
    return f"{float(v):.2f} s"


def scanned(data, state, env, run):
    """Pages scanned during the run: ksmpp counts them; kernel KSM on 6.1
    only counts full scans, so those times the mergeable pages."""
    last = data[-1]
    if last["scanned"] >= 0:
        return last["scanned"] - max(data[0]["scanned"], 0), False
    fs = last["full_scans"] - data[0]["full_scans"]
    pages = int(env.get("pages_per_vm", 0)) * int(env.get("vms", 4))
    return fs * pages, True


def steady_share(data):
    """Mean of merged / opportunities over the run's second half."""
    T = data[-1]["t"]
    vals = [r["merged"] / r["opp"] for r in data if r["t"] >= T / 2 and r["opp"] > 0]
    return sum(vals) / len(vals) if vals else None


def stalled_seconds(data, churn_rate):
    """Seconds in which the VMs got less than half their churn done: the
    whole guest stalled (under TCG: the host was busy)."""
    n = 0
    for a, b in zip(data, data[1:]):
        if b["t"] > 1 and churn_rate > 0 and b["churned"] - a["churned"] < churn_rate / 2:
            n += 1
    return n


def run_table(d, run, env, lines, results):
    cfgs = configs_of(d)
    if not cfgs:
        return
    vms = int(env.get("VMS", 4))
    churn = float(env.get("CHURN_RATE", 0)) * vms
    datas = {c: read_csv(os.path.join(d, c + ".csv")) for c in cfgs}
    summ = {c: read_kv(os.path.join(d, c + ".summary")) for c in cfgs}
    T = max(r["t"] for r in datas[cfgs[0]])
    cps = [c for c in CHECKPOINTS if c < T] + [T]
    ksm_mps = page_seconds(datas["ksm"]) if "ksm" in datas else None
    head = ["configuration"] + [f"merged @{c}s" for c in cps] + [
        f"opportunities @{T}s", "merged / opp. (2nd half)", "merged-page-s",
        "vs KSM", "pages scanned", "scanned / merge",
        "time to merge: median", "p90 (p90 of merged)", "sampled dups merged",
        "stalled s"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for c in cfgs:
        data = datas[c]
        s = summ[c]
        s["vms"] = vms
        sc, est = scanned(data, None, s, run)
        me = merges_est(data)
        sampled = int(s.get("sampled", 0) or 0)
        merged_n = int(s.get("merged", 0) or 0)
        mps = page_seconds(data)
        share = steady_share(data)
        row = [c] + [fmt(at(data, cp)) for cp in cps] + [
            fmt(at(data, T, "opp")), f"{share * 100:.0f}%" if share is not None else "n/a",
            fmt(mps), f"{mps / ksm_mps:.1f}x" if ksm_mps else "n/a",
            ("≈" if est else "") + fmt(sc),
            fmt(sc / me if me else None),
            lat(s, "median_all"), f"{lat(s, 'p90_all')} ({lat(s, 'p90_merged')})",
            f"{merged_n}/{sampled} ({100 * merged_n / sampled:.0f}%)" if sampled else "n/a",
            str(stalled_seconds(data, churn))]
        lines.append("| " + " | ".join(row) + " |")
        results[(run, c)] = {
            "cp": {cp: at(data, cp) for cp in cps}, "mps": mps, "share": share,
            "opp_ps": page_seconds(data, "opp"), "summary": s, "T": T,
            "scanned": sc, "merges": me}
    lines.append("")
    # ksmpp's own counters, for the record.
    extra = []
    for c in cfgs:
        st = read_kv(os.path.join(d, c + ".state"))
        if "merges" in st:
            extra.append(f"| {c} | {st.get('merges')} | {st.get('merges_hint')} | "
                         f"{st.get('pages_scanned')} | {st.get('pages_scanned_hint')} | "
                         f"{st.get('hints_read')} | {st.get('hints_direct_read', '0')} | "
                         f"{st.get('hints_dropped')} | {st.get('hints_consumed')} | "
                         f"{st.get('hint_pages_skipped')} | {st.get('full_scans')} | "
                         f"{st.get('metadata_bytes')} |")
    if extra:
        lines.append("ksmpp's counters at the end (/proc/ksmpp):")
        lines.append("")
        lines.append("| configuration | merges | merges_hint | pages_scanned | "
                     "pages_scanned_hint | hints_read | hints_direct_read | "
                     "hints_dropped | hints_consumed | hint_pages_skipped | "
                     "full_scans | metadata_bytes |")
        lines.append("|" + "---|" * 12)
        lines.extend(extra)
        lines.append("")
    pace_table(d, cfgs, datas, lines)


def pace_table(d, cfgs, datas, lines):
    """What each configuration cost and saved: the scanner thread's CPU
    time (ksmd, ksmppd; /proc/PID/schedstat), the hints dropped, and the
    pages saved counting those that map the zero page (vmsim's "zero"
    column, which pages_sharing leaves out)."""
    rows = []
    for c in cfgs:
        st = read_kv(os.path.join(d, c + ".state"))
        data = datas[c]
        if "scanner_cpu_ms" not in st or not data:
            continue
        T = data[-1]["t"] or 1
        cpu = int(st["scanner_cpu_ms"]) / 1000
        zero = "zero" in data[-1]
        saved = [dict(r, saved=max(r["merged"], 0) + (r["zero"] if zero else 0)) for r in data]
        rows.append(f"| {c} | {cpu:,.1f} | {100 * cpu / T:.1f}% | "
                    f"{st.get('pages_to_scan', 'n/a')} | {st.get('hints_dropped', 'n/a')} | "
                    f"{st.get('pages_scanned_hint', 'n/a')} | "
                    f"{fmt(at(data, T, 'zero')) if zero else 'n/a'} | "
                    f"{fmt(at(saved, T, 'saved'))} | {fmt(page_seconds(saved, 'saved'))} | "
                    f"{fmt(at(data, T, 'shared'))} | {st.get('stable_node_chains', 'n/a')} |")
    if not rows:
        return
    lines.append("Cost and savings (scanner CPU over the run; saved = pages_sharing + "
                 "pages mapping the zero page):")
    lines.append("")
    lines.append("| configuration | scanner CPU s | of one CPU | pages_to_scan at end | "
                 "hints_dropped | pages_scanned_hint | zero-page mappings | saved | "
                 "saved-page-s | pages_shared | stable_node_chains |")
    lines.append("|" + "---|" * 11)
    lines.extend(rows)
    lines.append("")


def pread_table(path, lines):
    """Instructions per call (the pread run's guest clock counts
    instructions, see tests/bench/bench-pread.sh): the fewest of each
    state's rounds, against the module not loaded, and the spread between
    rounds, which is zero unless something else was counted."""
    vals = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"pread (\S+) (\S+) mergeable=(\d) round=(\d+) ns_per_call=([\d.]+)", line)
            if m:
                vals[(m.group(1), m.group(2), m.group(3), int(m.group(4)))] = float(m.group(5))
    if not vals:
        return
    rounds = sorted({k[3] for k in vals})
    modes = sorted({k[0][len("loaded-"):-len("-run0")] for k in vals
                    if k[0].startswith("loaded-") and k[0].endswith("-run0")})

    def counts(state, fs, mg):
        return [vals[(state, fs, mg, r)] for r in rounds if (state, fs, mg, r) in vals]

    def spread(xs):
        return f"{max(xs) - min(xs):.0f}"

    lines.append("| file system | process | hook_mode | not loaded: instructions/call "
                 "(spread) | loaded, run=0 (spread) | overhead | added | "
                 "loaded, run=1 (spread) | overhead | added |")
    lines.append("|" + "---|" * 10)
    for fs in ("tmpfs", "ramfs"):
        for mg, name in (("1", "mergeable"), ("2", "mergeable, new range per call"),
                         ("0", "not mergeable")):
            base = counts("unloaded", fs, mg)
            if not base:
                continue
            b0 = min(base)
            for mode in modes:
                row = [fs, name, mode, f"{b0:.0f} ({spread(base)})"]
                for run in ("run0", "run1"):
                    xs = counts(f"loaded-{mode}-{run}", fs, mg)
                    if not xs:
                        row += ["n/a"] * 3
                        continue
                    x = min(xs)
                    row += [f"{x:.0f} ({spread(xs)})", f"{(x / b0 - 1) * 100:+.2f}%",
                            f"{x - b0:+.0f}"]
                lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("Every count (instructions/call, by round):")
    lines.append("")
    states = ["unloaded"] + [f"loaded-{m}-{r}" for m in modes for r in ("run0", "run1")]
    for st in states:
        for fs in ("tmpfs", "ramfs"):
            for mg in ("1", "2", "0"):
                v = [vals.get((st, fs, mg, r)) for r in rounds]
                lines.append(f"- {st} {fs} mergeable={mg}: " +
                             ", ".join("-" if x is None else f"{x:.0f}" for x in v))
    lines.append("")


def goals(results, lines):
    lines.append("| goal | measured | met |")
    lines.append("|---|---|---|")
    for run in ("io", "big"):
        ksm = results.get((run, "ksm"))
        hints = [c for (r, c) in sorted(results) if r == run and c.startswith("ksmpp-h")]
        if not ksm or not hints:
            continue
        cp = min(ksm["cp"])
        for c in hints:
            h = results[(run, c)]
            k = ksm["cp"][cp] or 0
            ratio = h["cp"][cp] / k if k > 0 else float("inf")
            lines.append(f"| ≥10x merged pages vs KSM at {cp} s ({run}, {c}) | "
                         f"{h['cp'][cp]:,} vs {k:,} "
                         f"({'KSM none' if ratio == float('inf') else f'{ratio:.1f}x'}) | "
                         f"{'yes' if ratio >= 10 else 'no'} |")
        for c in hints:
            h = results[(run, c)]
            ratio = h["mps"] / ksm["mps"] if ksm["mps"] else float("inf")
            lines.append(f"| ≥4x merged-page-seconds vs KSM ({run}, {c}) | "
                         f"{h['mps']:,.0f} vs {ksm['mps']:,.0f} "
                         f"({'KSM none' if ratio == float('inf') else f'{ratio:.2f}x'}) | "
                         f"{'yes' if ratio >= 4 else 'no'} |")
    for run in ("io", "big", "io-direct"):
        for (r, c), h in sorted(results.items()):
            if r != run or not c.startswith("ksmpp-h"):
                continue
            med = h["summary"].get("median_all", "na")
            ok = med not in ("na", "never") and float(med) <= 1.0
            lines.append(f"| I/O-to-merge median ≤1 s ({run}, {c}) | "
                         f"{lat(h['summary'], 'median_all')} | {'yes' if ok else 'no'} |")
    ck, cp_ = results.get(("compute", "ksm")), results.get(("compute", "ksmpp-off"))
    if ck and cp_:
        ratio = cp_["mps"] / ck["mps"] if ck["mps"] else float("inf")
        lines.append(f"| non-I/O: ksmpp hints off no worse than KSM | merged-page-s "
                     f"{cp_['mps']:,.0f} vs {ck['mps']:,.0f} ({ratio:.2f}x) | "
                     f"{'yes' if ratio >= 0.95 else 'no'} |")
    lines.append("")


def gnuplot_start(png, panels, xlabel, ylabel):
    """The start of a gnuplot script drawing PANELS panels, one above the
    other, into PNG; None if there is nothing to draw or no gnuplot."""
    if not panels or subprocess.call(["sh", "-c", "command -v gnuplot >/dev/null"]):
        return None
    return [f"set terminal pngcairo size 1100,{380 * panels} font ',10'",
            f"set output '{png}'",
            f"set multiplot layout {panels},1",
            "set termoption noenhanced",
            "set datafile separator ','", "set key outside right top",
            f"set xlabel '{xlabel}'", f"set ylabel '{ylabel}'",
            "set grid"]


def plot(out, png, heading=None):
    panels = []
    for run, title in RUNS:
        d = os.path.join(out, run)
        if os.path.isdir(d) and configs_of(d):
            panels.append((run, title, d))
    script = gnuplot_start(png, len(panels), "seconds", "merged pages (pages_sharing)")
    if not script:
        return
    for run, run_title, d in panels:
        cfgs = configs_of(d)
        plots = []
        for c in cfgs:
            color = ORDER.index(c) + 1 if c in ORDER else 8
            plots.append(f"'{os.path.join(d, c + '.csv')}' every ::1 using 1:2 with lines lw 2 lc {color} title '{c}'")
        # Opportunities: the same workload in every configuration; their mean.
        opp = {}
        for c in cfgs:
            for r in read_csv(os.path.join(d, c + ".csv")):
                opp.setdefault(r["t"], []).append(r["opp"])
        opp_csv = os.path.join(out, f".{run}-opportunities.csv")
        with open(opp_csv, "w") as f:
            f.write("t,opp\n")
            for t in sorted(opp):
                f.write(f"{t},{sum(opp[t]) / len(opp[t]):.0f}\n")
        plots.append(f"'{opp_csv}' every ::1 using 1:2 with lines dt 2 lc rgb 'black' "
                     "title 'opportunities (mean)'")
        script.append(f"set title '{heading or run_title}'")
        script.append("plot " + ", ".join(plots))
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)


def qemu_runs(out):
    """The qemu run's modes that have data: (mode, title, dir, configs)."""
    runs = []
    for mode, title in QEMU_MODES:
        d = os.path.join(out, "qemu-" + mode)
        cfgs = configs_of(d) if os.path.isdir(d) else None
        if cfgs:
            runs.append((mode, title, d, cfgs))
    return runs


def first_time(data, key, level):
    """The first second at which data[key] reached level (None: never)."""
    for r in data:
        if r[key] >= level:
            return r["t"]
    return None


def qemu_table(out, lines):
    """Per I/O mode: disk-derived pages saved at checkpoints, the time each
    configuration takes to reach 95% of kernel KSM's final saving (its
    plateau), merged-page-seconds, and the scanner's CPU per saved page."""
    for mode, title, d, cfgs in qemu_runs(out):
        datas = {c: read_csv(os.path.join(d, c + ".csv")) for c in cfgs}
        ksm = datas.get("ksm")
        plateau = ksm[-1]["disk"] if ksm else None
        best = max((data[-1]["disk"] for data in datas.values() if data), default=0)
        lines.append(f"## Real QEMU guests, {title} (qemu-{mode})")
        lines.append("")
        lines.append(f"Pages saved across the guests' RAM that hold a block of the images "
                     f"read (disk); KSM's plateau: its final disk figure, "
                     f"{fmt(plateau)}; reached: {PLATEAU_SHARE:.0%} of it.")
        level = PLATEAU_SHARE * plateau if plateau else None
        if plateau is not None and plateau < PLATEAU_SHARE * best:
            # KSM was still short of what the others saved: no plateau.
            lines.append(f"KSM did not reach a plateau within the run: it saved "
                         f"{fmt(plateau)} disk pages, another configuration {fmt(best)}; "
                         f"\"reached\" is {PLATEAU_SHARE:.0%} of that best figure instead.")
            level = PLATEAU_SHARE * best
        lines.append("")
        lines.append("| config | " + " | ".join(f"disk at {t} s" for t in QEMU_CHECKPOINTS) +
                     " | disk final | zero final | other final | reached KSM's plateau at |"
                     " disk page-s | scanner CPU ms | CPU µs per page saved since the start |"
                     " reads done at | guest pages in huge pages |"
                     " sums |")
        lines.append("|---" * (len(QEMU_CHECKPOINTS) + 11) + "|")
        reached, cpu, reads = {}, {}, {}
        for c in cfgs:
            data = datas[c]
            if not data:
                continue
            last = data[-1]
            summary = read_kv(os.path.join(d, c + ".summary"))
            if summary.get("reads_done_s", "never").isdigit():
                reads[c] = int(summary["reads_done_s"])
            # Saved since the first sample: guest RAM shares some frames
            # (zero-filled) before any engine runs.
            total = sum(last[k] - data[0][k] for k in ("disk", "zero", "other"))
            if level:
                reached[c] = first_time(data, "disk", level)
            when = "never" if level and reached[c] is None else \
                f"{reached[c]} s" if level else "n/a"
            per_page = 1000 * last["cpu_ms"] / total if total > 0 else None
            cpu[c] = per_page
            lines.append(f"| {c} | " +
                         " | ".join(fmt(at(data, t, "disk")) for t in QEMU_CHECKPOINTS) +
                         f" | {fmt(last['disk'])} | {fmt(last['zero'])} | {fmt(last['other'])}"
                         f" | {when} | {fmt(page_seconds(data, 'disk'))}"
                         f" | {fmt(last['cpu_ms'])} | {fmt(per_page, 1)}"
                         f" | {summary.get('reads_done_s', 'n/a')} s"
                         f" | {fmt(last.get('huge'))}"
                         f" | {summary.get('sums', 'n/a')} |")
        lines.append("")
        k = reached.get("ksm")
        for c, t in sorted(reached.items()):
            if c == "ksm" or "ksm" not in reached:
                continue
            if k is None:
                ksm_end = datas["ksm"][-1]["t"]
                ksm_after = after_reads(ksm_end, reads.get("ksm"))
                mine = after_reads(t, reads.get(c))
                since = "" if ksm_after is None else f", {ksm_after} s after its reads' end"
                when = "never" if t is None else \
                    f"at {t} s" + ("" if mine is None else f" ({mine} s after its reads' end)")
                lines.append(f"- {c}: reached {when}; KSM: not by the run's "
                             f"end ({ksm_end} s{since}); "
                             f"CPU per saved page {fmt(cpu.get(c), 1)} µs")
                continue
            speedup = "never" if t is None else \
                f"{k / t:.1f}x sooner" if t > 0 else "at the first sample"
            lines.append(f"- {c}: KSM's plateau at {fmt(t)} s against KSM's {k} s: {speedup}"
                         f"{sooner_after_reads(t, k, reads.get(c), reads.get('ksm'))}; "
                         f"CPU per saved page {fmt(cpu.get(c), 1)} µs against KSM's "
                         f"{fmt(cpu.get('ksm'), 1)} µs")
        lines.append("")


def after_reads(t, reads):
    """Second t counted from the run's reads' end (None if either is
    unknown): the data cannot be merged before it is read, and the reads
    take the same time under every engine."""
    if t is None or reads is None:
        return None
    return max(t - reads, 0)


def sooner_after_reads(t, k, reads, ksm_reads):
    """Times to the plateau, t and KSM's k, counted from each run's reads'
    end, and their ratio."""
    mine, ksm = after_reads(t, reads), after_reads(k, ksm_reads)
    if mine is None or ksm is None:
        return ""
    ratio = f"{ksm / mine:.1f}x sooner" if mine > 0 else "at once"
    return f" ({mine} s against {ksm} s after the reads' end: {ratio})"


def qemu_plot(out, png):
    runs = qemu_runs(out)
    script = gnuplot_start(png, len(runs), "seconds from the engine start",
                           "pages saved holding image blocks")
    if not script:
        return
    for mode, title, d, cfgs in runs:
        plots = []
        for c in cfgs:
            color = ORDER.index(c) + 1 if c in ORDER else 8
            plots.append(f"'{os.path.join(d, c + '.csv')}' every ::1 using 1:2 "
                         f"with lines lw 2 lc {color} title '{c}'")
        script.append(f"set title 'Real QEMU guests: {title}'")
        script.append("plot " + ", ".join(plots))
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)


SCALE_AXES = (("procs", "opted-in processes", "processes"),
              ("mem", "mergeable memory", "MiB"),
              ("dup", "pages that merge", "percent"),
              ("cpus", "guest CPUs", "CPUs"))


def scale_points(out):
    """The scale run's points: dicts of their key=value words; "pages" is
    None where KSM does not count them (~N: an estimate, kept in
    "pages_est")."""
    path = os.path.join(out, "scale.points")
    points = []
    if not os.path.exists(path):
        return points
    with open(path) as f:
        for line in f:
            p = dict(w.split("=", 1) for w in line.split() if "=" in w)
            if "pages" in p and p["pages"].startswith("~"):
                p["pages_est"] = True
                p["pages"] = p["pages"][1:]
            for k, v in list(p.items()):
                if k not in ("axis", "engine") and re.fullmatch(r"-?\d+", str(v)):
                    p[k] = int(v)
            points.append(p)
    return points


def scale_figures(p):
    """CPU ns per page scanned, CPU us per batch, metadata bytes per tracked
    page, seconds per pass at the measured rate."""
    pages, sleeps = p.get("pages") or 0, p.get("sleeps") or 0
    per_page = p["cpu_ns"] / pages if pages else None
    per_batch = p["cpu_ns"] / sleeps / 1000 if sleeps else None
    meta = p["meta_max"] / p["tracked"] if p.get("tracked") and "meta_max" in p else None
    pass_s = p["tracked"] * p["window_s"] / pages if pages else None
    return per_page, per_batch, meta, pass_s


def scale_table(out, lines):
    points = scale_points(out)
    if not points:
        return
    lines.append("## Scale: ksmppd against ksmd as the host grows (scale)")
    lines.append("")
    lines.append("Both engines hints off, at SCALE_PAGES_TO_SCAN pages a batch; measured over "
                 "SCALE_WINDOW seconds after SCALE_PASSES passes. ~: KSM's pages estimated "
                 "from its batches, where KSM does not count them. Metadata per page: the least "
                 "and the most over the window (the goal is read from the most): ksmpp's "
                 "metadata_bytes, KSM's slab caches (rmap items, stable nodes, mm slots), "
                 "each with the xarray nodes added since the engine started (ksmpp's per-page "
                 "hashes). In brackets, at the end: ksmpp's slab caches against its "
                 "metadata_bytes, and its xarray bytes per page.")
    lines.append("")
    for axis, title, unit in SCALE_AXES:
        rows = [p for p in points if p.get("axis") == axis]
        if not rows:
            continue
        lines.append(f"### {title}")
        lines.append("")
        lines.append(f"| {unit} | engine | pages tracked | CPU ns per page | vs KSM | "
                     "CPU us per batch | batches | s per pass | metadata bytes per page | vs KSM | "
                     "process walks |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        ksm = {p["x"]: scale_figures(p) for p in rows if p["engine"] == "ksm"}
        for p in sorted(rows, key=lambda p: (p["x"], p["engine"] != "ksm")):
            per_page, per_batch, meta, pass_s = scale_figures(p)
            k = ksm.get(p["x"])
            vs_page = f"{per_page / k[0]:.2f}x" if per_page and k and k[0] else "n/a"
            vs_meta = f"{meta / k[2]:.2f}x" if meta is not None and k and k[2] else "n/a"
            low = (f"{p['meta_min'] / p['tracked']:.1f}-"
                   if "meta_min" in p and p["meta_min"] != p["meta_max"] else "")
            slab = (f" (slab {p['slab_bytes'] / p['own_bytes']:.0%} of metadata_bytes, "
                    f"xarray {p['xarray_bytes'] / p['tracked']:.1f})"
                    if p["engine"] != "ksm" and p.get("own_bytes") else "")
            est = "~" if p.get("pages_est") else ""
            lines.append(
                f"| {p['x']:,} | {p['engine']} | {p['tracked']:,} | "
                f"{est}{fmt(per_page, 0) if per_page else 'n/a'} | {vs_page} | "
                f"{fmt(per_batch, 0) if per_batch else 'n/a'} | {p['sleeps']:,} | "
                f"{est}{fmt(pass_s, 1) if pass_s else 'n/a'} | "
                f"{low}{fmt(meta, 1) if meta is not None else 'n/a'}{slab} | {vs_meta} | "
                f"{p['walks'] if isinstance(p.get('walks'), int) else 'n/a'} |")
        lines.append("")
    io = [p for p in points if p.get("axis") == "io"]
    if io:
        lines.append("### LRU drains of hinted pages, I/O workload, hints on (io)")
        lines.append("")
        lines.append("| CPUs | CPU us per batch | batches | drains of one CPU | drains of all | "
                     "hinted merges |")
        lines.append("|---|---|---|---|---|---|")
        for p in sorted(io, key=lambda p: p["x"]):
            lines.append(f"| {p['x']} | {fmt(scale_figures(p)[1], 0)} | {p['sleeps']:,} | "
                         f"{p['drains_cpu']:,} | {p['drains_all']:,} | {p['merges_hint']:,} |")
        lines.append("")


def scale_plot(out, png):
    """CPU per batch against each axis; against the share of pages that
    merge, metadata per page instead (its most over the window)."""
    points = scale_points(out)
    axes = [a for a in SCALE_AXES if any(p.get("axis") == a[0] for p in points)]
    script = gnuplot_start(png, len(axes), "", "")
    if not script:
        return
    for axis, title, unit in axes:
        metadata = axis == "dup"
        figure = 2 if metadata else 1
        # Percentages from 0 on a linear axis; counts that double, in powers of 2.
        script.append("unset logscale x" if metadata else "set logscale x 2")
        plots = []
        for engine in sorted({p["engine"] for p in points if p.get("axis") == axis}):
            csv = os.path.join(out, f".scale-{axis}-{engine}.csv")
            with open(csv, "w") as f:
                f.write("x,y\n")
                for p in sorted((p for p in points
                                 if p.get("axis") == axis and p["engine"] == engine),
                                key=lambda p: p["x"]):
                    y = scale_figures(p)[figure]
                    if y:
                        f.write(f"{p['x']},{y:.1f}\n")
            color = ORDER.index(engine) + 1 if engine in ORDER else 8
            plots.append(f"'{csv}' every ::1 using 1:2 with linespoints lw 2 lc {color} "
                         f"title '{engine}'")
        script.append(f"set xlabel '{unit}'")
        if metadata:
            script.append("set ylabel 'metadata bytes per page (most)'")
            script.append(f"set title 'Metadata per page against {title}'")
        else:
            script.append("set ylabel 'CPU us per batch'")
            script.append(f"set title 'CPU per batch against {title}'")
        script.append("set yrange [0:*]")
        script.append("plot " + ", ".join(plots))
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)


def main():
    out = sys.argv[1]
    env = {}
    env_path = os.path.join(out, "bench.env")
    if os.path.exists(env_path):
        with open(env_path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.strip().split("=", 1)
                    env[k] = v.strip('"')
    lines = [f"# ksmpp benchmark results ({out})", ""]
    seen = set()
    for name in sorted(os.listdir(out)):
        if name.endswith(".notes.txt") or name == "module.txt":
            with open(os.path.join(out, name)) as f:
                for line in f:
                    if (line.startswith(("kernel ", "error", "module source")) and
                            line not in seen):
                        seen.add(line)
                        lines.append("    " + line.rstrip())
    for name in sorted(os.listdir(out)):
        if name.endswith(".hostload"):
            with open(os.path.join(out, name)) as f:
                loads = [float(l.split()[1]) for l in f if len(l.split()) >= 2]
            if loads:
                lines.append(f"    host load average during {name[:-9]}: median "
                             f"{statistics.median(loads):.1f}, max {max(loads):.1f} "
                             f"(host CPUs: {os.cpu_count()})")
    lines.append("    " + " ".join(f"{k}={v}" for k, v in env.items()))
    lines.append("")
    results = {}
    for run, title in RUNS:
        d = os.path.join(out, run)
        if os.path.isdir(d):
            lines.append(f"## {title} ({run})")
            lines.append("")
            run_table(d, run, env, lines, results)
    lines.append("## Goals")
    lines.append("")
    goals(results, lines)
    if os.path.exists(os.path.join(out, "pread.txt")):
        lines.append("## pread() cost of the hooks, in instructions (pread)")
        lines.append("")
        pread_table(os.path.join(out, "pread.txt"), lines)
    qemu_table(out, lines)
    scale_table(out, lines)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    plot(out, sys.argv[2] if len(sys.argv) > 2 else os.path.join(out, "bench.png"),
         sys.argv[3] if len(sys.argv) > 3 else None)
    qemu_plot(out, os.path.join(out, "qemu.png"))
    scale_plot(out, os.path.join(out, "scale.png"))


if __name__ == "__main__":
    main()
