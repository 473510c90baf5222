#!/usr/bin/env python3
"""Benchmark (issue 26): what reading a document in the reader child costs over reading it
in-process, for a 5-page and a 300-page PDF (text and a 14-row table a page, Helvetica).

  python3 scripts/bench_reader_child.py [--pages 5 300]

Builds the release `fin-r1` and the `child_overhead` example, writes the PDFs to a temporary
folder and prints the median of five reads each way (BENCHMARKS.md has the figures)."""
import argparse
import os
import subprocess
import tempfile


def make_pdf(path, pages):
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for p in range(1, pages + 1):
        lines = [(40, 760, f"Note {p}. Segment information")]
        lines += [(40, 740 - 14 * i, f"Paragraph {i} of note {p}: revenue by segment and how it reconciles.") for i in range(4)]
        for r in range(14):
            y = 660 - 16 * r
            lines += [(40, y, f"Line item {p}.{r}"), (300, y, f"{1000 + 37 * p + r:,}"), (380, y, f"({200 + 11 * r + p:,})"), (460, y, f"{(r * 7 + p) % 100 / 10:.1f}%")]
        content = "BT /F1 10 Tf " + " ".join(f"1 0 0 1 {x} {y} Tm ({t}) Tj" for x, y, t in lines) + " ET"
        objects.append(f"<< /Length {len(content)} >>\nstream\n{content}\nendstream")
        contents = len(objects)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {contents} 0 R >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {pages} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{o}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    with open(path, "wb") as f:
        f.write(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, nargs="+", default=[5, 300])
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    subprocess.run(["cargo", "build", "--release", "-p", "fin-r1-cli", "--bin", "fin-r1"], cwd=root, check=True)
    work = tempfile.mkdtemp()
    files = []
    for n in a.pages:
        files.append(os.path.join(work, f"report-{n}p.pdf"))
        make_pdf(files[-1], n)
    subprocess.run(
        ["cargo", "run", "--release", "-q", "-p", "fin-r1-documents", "--example", "child_overhead", "--", os.path.join(target, "release", "fin-r1"), *files],
        cwd=root,
        check=True,
    )


if __name__ == "__main__":
    main()
