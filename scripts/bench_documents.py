#!/usr/bin/env python3
"""Benchmark (issue 18): reading a 300-page PDF — time and peak memory of
`fin-r1 documents extract`, beside poppler's `pdftotext -layout` on the same file.

The PDF is an annual-report-like document made by pdfTeX (Debian's texlive-latex-base):
every page a heading, two paragraphs and a ruled 4-column statement of 14 rows. It is made
once under ~/.cache/fin-r1/bench/documents.

  python3 scripts/bench_documents.py [--fin-r1 PATH] [--pages 300] [--runs 3]

Prints one line per run and a summary; checks the extraction found every page and table.
Needs /usr/bin/time (Debian's `time`), pdflatex and pdftotext.
"""
import argparse, json, os, platform, re, shutil, subprocess, sys, tempfile


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def make_pdf(path, pages):
    body = []
    for p in range(1, pages + 1):
        rows = "\n".join(
            f"Line item {p}.{r} & {1000 + 37 * p + r:,} & ({200 + 11 * r + p:,}) & {(r * 7 + p) % 100 / 10:.1f}\\% \\\\ \\hline"
            for r in range(1, 15)
        )
        body.append(
            f"\\section*{{Note {p}. Segment information}}\n"
            + (
                f"Paragraph one of note {p}: revenue by segment, the measures management uses and how they reconcile to the "
                "consolidated statements. "
            )
            * 2
            + "\n\n"
            + f"Paragraph two of note {p}: assumptions, judgements and the sensitivity of the figures to them. " * 2
            + "\n\n\\begin{tabular}{|l|r|r|r|}\n\\hline\nItem & 2024 & 2023 & Margin \\\\ \\hline\n"
            + rows
            + "\n\\end{tabular}\n\\newpage\n"
        )
    work = tempfile.mkdtemp()
    tex = os.path.join(work, "report.tex")
    with open(tex, "w") as f:
        f.write("\\documentclass{article}\n\\begin{document}\n" + "".join(body) + "\\end{document}\n")
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-output-directory", work, tex], check=True, capture_output=True)
    shutil.move(os.path.join(work, "report.pdf"), path)
    shutil.rmtree(work)


def timed(cmd):
    """(seconds, peak RSS in MB, stdout) of one run."""
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {r.stderr.decode(errors='replace')[-500:]}")
    last = r.stderr.decode().strip().splitlines()[-1].split()
    return float(last[0]), int(last[1]) / 1024, r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fin-r1", default=os.environ.get("FIN_R1_BIN", os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "debug", "fin-r1")))
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    cache = os.path.expanduser("~/.cache/fin-r1/bench/documents")
    os.makedirs(cache, exist_ok=True)
    pdf = os.path.join(cache, f"report-{a.pages}p.pdf")
    if not os.path.exists(pdf):
        make_pdf(pdf, a.pages)
    size_mb = os.path.getsize(pdf) / 1e6
    print(f"CPU: {cpu_name()} ({os.cpu_count()} threads); file: {pdf} ({a.pages} pages, {size_mb:.1f} MB)")
    ours, ref = [], []
    for i in range(a.runs):
        t, rss, out = timed([a.fin_r1, "documents", "extract", "--json", pdf])
        doc = json.loads(out)
        tables = sum(1 for b in doc["blocks"] if b["type"] == "table")
        if doc["pages"] != a.pages or tables != a.pages:
            sys.exit(f"extraction incomplete: {doc['pages']} pages, {tables} tables")
        cells_ok = all(
            b["rows"][0] == ["Item", "2024", "2023", "Margin"] and len(b["rows"]) == 15 for b in doc["blocks"] if b["type"] == "table"
        )
        ours.append((t, rss))
        t2, rss2, _ = timed(["pdftotext", "-layout", pdf, "-"])
        ref.append((t2, rss2))
        print(f"run {i + 1}: fin-r1 {t:.2f} s, {rss:.0f} MB peak (tables whole: {cells_ok}); pdftotext -layout {t2:.2f} s, {rss2:.0f} MB")
    best = min(ours)
    best_ref = min(ref)
    print(
        f"best: fin-r1 {best[0]:.2f} s ({a.pages / best[0]:.0f} pages/s), {max(r for _, r in ours):.0f} MB peak; "
        f"pdftotext -layout {best_ref[0]:.2f} s, {max(r for _, r in ref):.0f} MB peak"
    )


if __name__ == "__main__":
    main()
