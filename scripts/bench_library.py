#!/usr/bin/env python3
"""Benchmark (issue 29): indexing a folder of filings with `fin-r1 library add` — pages/s and
peak memory — then a question's retrieval over it (`fin-r1 library search`), and a re-read
of the unchanged folder. Beside it, poppler's `pdftotext -layout` over the same PDFs (the
text only: no tables, no index) as the reference for the reading.

The folder: N copies of bench_documents.py's 300-page pdfTeX report (each a heading, two
paragraphs and a ruled table a page) plus the repository's real small documents (an annual
report, a Chinese loan table, a policy in Word, a workbook), made once under
~/.cache/fin-r1/bench/library.

  python3 scripts/bench_library.py [--fin-r1 PATH] [--reports 3] [--copies 20]

Needs /usr/bin/time (Debian's `time`), pdflatex and pdftotext.
"""
import argparse, glob, json, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
from bench_documents import cpu_name, make_pdf, timed  # noqa: E402

QUESTIONS = [
    "What was revenue by segment in 2024?",
    "How do the segment measures reconcile to the consolidated statements?",
    "Line item 212.7 margin",
    "贷款利率是多少",
    "sensitivity of the figures to judgements and assumptions",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fin-r1", default=os.environ.get("FIN_R1_BIN", os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "fin-r1")))
    ap.add_argument("--reports", type=int, default=3, help="300-page reports in the folder")
    ap.add_argument("--copies", type=int, default=20, help="copies of each small real document")
    a = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cache = os.path.expanduser("~/.cache/fin-r1/bench/documents")
    os.makedirs(cache, exist_ok=True)
    big = os.path.join(cache, "report-300p.pdf")
    if not os.path.exists(big):
        make_pdf(big, 300)
    folder = tempfile.mkdtemp(prefix="fin-r1-library-bench-")
    data = tempfile.mkdtemp(prefix="fin-r1-library-data-")
    pdfs = []
    for i in range(a.reports):
        p = os.path.join(folder, f"report-{i}.pdf")
        shutil.copy(big, p)
        pdfs.append(p)
    small = ["annual-report.pdf", "zh-loans.pdf", "policy.docx", "income.xlsx"]
    for c in range(a.copies):
        d = os.path.join(folder, f"company-{c:02d}")
        os.makedirs(d)
        for f in small:
            shutil.copy(os.path.join(repo, "tests/fixtures/documents", f), d)
            if f.endswith(".pdf"):
                pdfs.append(os.path.join(d, f))
    files = sum(len(fs) for _, _, fs in os.walk(folder))
    print(f"CPU: {cpu_name()} ({os.cpu_count()} threads); folder: {files} files")
    t, rss, out = timed([a.fin_r1, "library", "add", folder, "--data-dir", data, "--json"])
    report = json.loads(out.decode().strip().splitlines()[-1])
    pages = report["pages"]
    print(f"index: {t:.2f} s for {pages} pages ({pages / t:.1f} pages/s), {report['added']} files read, {report['refused']} refused; peak {rss:.0f} MB (fin-r1; each file's reader child is bounded apart)")
    t2, _, _ = timed([a.fin_r1, "library", "reindex", "--data-dir", data, "--json"])
    print(f"re-read, nothing changed: {t2:.2f} s")
    ref = 0.0
    for p in pdfs:
        start = time.perf_counter()
        subprocess.run(["pdftotext", "-layout", p, "-"], check=True, capture_output=True)
        ref += time.perf_counter() - start
    print(f"pdftotext -layout over the same PDFs: {ref:.2f} s (text only, one process per file)")
    times = []
    for q in QUESTIONS:
        start = time.perf_counter()
        r = subprocess.run([a.fin_r1, "library", "search", q, "--data-dir", data, "--json"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        hits = json.loads(r.stdout)
        print(f"search {q!r}: {len(hits)} passages, {times[-1] * 1000:.0f} ms (process start and store open included); first: {hits[0]['label'] if hits else '-'}")
    print(f"search: median {sorted(times)[len(times) // 2] * 1000:.0f} ms")
    shutil.rmtree(folder)
    shutil.rmtree(data)


if __name__ == "__main__":
    main()
