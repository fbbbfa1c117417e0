#!/usr/bin/env python3
"""Helpers of the benchmarks (run with the venv's python): bench/calendar.sh calls it as a command, and
bench/mail.py and bench/site.py import its functions (wrk output, free ports, RSS, percentiles).

    benchlib.py request <op> <url> <user> <password>
        Sends the benchmark request once (op: feed | report | propfind; the bodies are bench/report.xml and
        bench/propfind.xml, REPORT_START/REPORT_END from the environment) and prints
        "<status> <body-bytes> <hrefs> <vevents>" (hrefs: .ics hrefs in a multistatus; vevents: BEGIN:VEVENT).

    benchlib.py summarize <results.tsv> <rss-kib> <hwm-kib>
        Reads the wrk outputs listed in results.tsv (op, size, server, file) and prints the table and one
        PASS/FAIL line per target. Always exits 0: this is a measurement.
"""
import os
import re
import socket
import sys
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent


def body_for(op: str) -> str | None:
    if op == "report":
        xml = (HERE / "report.xml").read_text()
        return xml.replace("{START}", os.environ["REPORT_START"]).replace("{END}", os.environ["REPORT_END"])
    if op == "propfind":
        return (HERE / "propfind.xml").read_text()
    return None


def request(op: str, url: str, user: str, password: str) -> None:
    method = {"feed": "GET", "report": "REPORT", "propfind": "PROPFIND"}[op]
    headers = {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"} if op != "feed" else {}
    auth = (user, password) if user else None
    r = requests.request(method, url, data=body_for(op), headers=headers, auth=auth, timeout=120)
    text = r.content
    hrefs = len(re.findall(rb"<(?:\w+:)?href>[^<]*\.ics</(?:\w+:)?href>", text))
    vevents = text.count(b"BEGIN:VEVENT")
    print(r.status_code, len(text), hrefs, vevents)


def parse_wrk(path: Path) -> dict:
    """[`parse_wrk_text`] of a wrk output file."""
    return parse_wrk_text(path.read_text(errors="replace"))


def parse_wrk_text(text: str) -> dict:
    """Requests/sec, median and p99 (ms) and error counts from `wrk --latency` output."""
    out = {"rps": None, "p50": None, "p99": None, "errors": 0, "requests": 0}
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for key, pattern in (("p50", r"50(?:\.0+)?%"), ("p99", r"99(?:\.0+)?%")):
        m = re.search(rf"^\s*{pattern}\s+([\d.]+)\s*(us|ms|s|m)\b", text, re.M)
        if m:
            out[key] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        out["errors"] += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["errors"] += sum(map(int, m.groups()))
    return out


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    """VmRSS of a process, in KiB (0 once it has exited)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], p: float) -> float:
    """The p-th percentile of `values` (nearest rank)."""
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def fmt(v, spec=".0f"):
    return "-" if v is None else format(v, spec)


def summarize(results: Path, rss_kib: int, hwm_kib: int) -> None:
    rows: dict[tuple[str, int], dict[str, dict]] = {}
    for line in results.read_text().splitlines():
        op, size, server, file = line.split("\t")
        rows.setdefault((op, int(size)), {})[server] = parse_wrk(Path(file))
    verdicts = []
    header = (f"{'operation':<9} {'events':>6} | {'jmb rps':>8} {'jmb p99':>8} | {'radicale':>8} {'jmb/rad':>8} | "
              f"{'ceiling':>8} {'jmb/ceil':>8} {'ceil p99':>8} | {'errors j/r/c':>12}")
    print(header)
    print("-" * len(header))
    for (op, size), r in rows.items():
        j, rad, c = r.get("jmb", {}), r.get("radicale", {}), r.get("ceiling", {})
        ratio_r = j["rps"] / rad["rps"] if j.get("rps") and rad.get("rps") else None
        ratio_c = j["rps"] / c["rps"] if j.get("rps") and c.get("rps") else None
        errs = f"{j.get('errors', '-')}/{rad.get('errors', '-')}/{c.get('errors', '-')}"
        print(f"{op:<9} {size:>6} | {fmt(j.get('rps')):>8} {fmt(j.get('p99'), '.2f'):>6}ms | "
              f"{fmt(rad.get('rps'), '.1f'):>8} {fmt(ratio_r, '.0f'):>7}x | {fmt(c.get('rps')):>8} "
              f"{fmt(ratio_c, '.2f'):>8} {fmt(c.get('p99'), '.2f'):>6}ms | {errs:>12}")
        name = f"{op} {size}"
        verdicts.append((ratio_r is not None and ratio_r >= 100, f"{name}: jmb >= 100x Radicale "
                         f"({fmt(ratio_r, '.0f')}x)"))
        verdicts.append((ratio_c is not None and ratio_c >= 0.5, f"{name}: jmb >= 0.5x ceiling "
                         f"({fmt(ratio_c, '.2f')}x)"))
        # 20 ms, or twice the ceiling's p99 where the body alone makes 20 ms impossible (the ceiling itself
        # is at or above 20 ms: the 2000-event feed).
        limit = 2 * c["p99"] if c.get("p99") is not None and c["p99"] >= 20.0 else 20.0
        verdicts.append((j.get("p99") is not None and j["p99"] < limit,
                         f"{name}: jmb p99 {fmt(j.get('p99'), '.2f')} ms < {limit:.1f} ms"))
        verdicts.append((j.get("errors", 1) == 0 and j.get("requests", 0) > 0, f"{name}: jmb answered without errors"))
    verdicts.append((rss_kib < 40 * 1024, f"jmb memory after the run: VmRSS {rss_kib / 1024:.1f} MB "
                     f"(peak VmHWM {hwm_kib / 1024:.1f} MB) < 40 MB"))
    print()
    for ok, text in verdicts:
        print(f"PASS  {text}" if ok else f"FAIL  {text}   <<<<<<<<<<")
    failed = sum(1 for ok, _ in verdicts if not ok)
    print(f"\n{len(verdicts) - failed} targets met, {failed} missed")


if __name__ == "__main__":
    if sys.argv[1] == "request":
        request(*sys.argv[2:6])
    elif sys.argv[1] == "summarize":
        summarize(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        raise SystemExit(__doc__)
