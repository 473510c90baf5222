#!/usr/bin/env python3
"""Writes src-tauri/licences.json: the licence of every Rust crate the desktop app links
(normal dependencies on Linux, from Cargo.lock via `cargo metadata`) and of every npm package
shipped in the UI bundle (package-lock.json, dev tools left out), plus the fonts embedded in
PDF reports. The About page shows it. `--check` fails if the file is out of date."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src-tauri" / "licences.json"
TARGET = "x86_64-unknown-linux-gnu"

FONTS = [
    {"name": "Noto Sans CJK (system package fonts-noto-cjk, embedded as a subset in PDF reports)", "version": "2.004", "license": "OFL-1.1", "repository": "https://github.com/notofonts/noto-cjk"},
    {"name": "Libertinus Serif (typst-assets)", "version": "7.040", "license": "OFL-1.1", "repository": "https://github.com/alerque/libertinus"},
    {"name": "New Computer Modern (typst-assets)", "version": "6.0", "license": "GUST-Font-License", "repository": "https://ctan.org/pkg/newcomputermodern"},
    {"name": "DejaVu Sans Mono (typst-assets)", "version": "2.37", "license": "Bitstream-Vera", "repository": "https://dejavu-fonts.github.io/"},
]


def rust():
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", TARGET],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    workspace = set(meta["workspace_members"])
    root = next(i for i in workspace if packages[i]["name"] == "fin-r1-desktop")
    seen, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        for dep in nodes[pid]["deps"]:
            if any(k["kind"] is None for k in dep["dep_kinds"]):
                todo.append(dep["pkg"])
    out = []
    for pid in seen - workspace:
        p = packages[pid]
        out.append({"name": p["name"], "version": p["version"], "license": p.get("license") or ("see " + p["license_file"] if p.get("license_file") else "unknown"), "repository": p.get("repository")})
    return sorted(out, key=lambda d: (d["name"], d["version"]))


def npm():
    lock = json.loads((ROOT / "ui" / "package-lock.json").read_text())
    out = []
    for path, p in lock.get("packages", {}).items():
        # Optional packages are the Node-only extras of browser libraries (pdf.js's canvas for
        # Node): the bundle never holds them.
        if not path or p.get("dev") or p.get("devOptional") or p.get("optional"):
            continue
        name = path.split("node_modules/")[-1]
        out.append({"name": name, "version": p.get("version", ""), "license": p.get("license", "unknown"), "repository": None})
    return sorted(out, key=lambda d: (d["name"], d["version"]))


def main():
    text = json.dumps({"rust": rust(), "npm": npm(), "fonts": FONTS}, indent=1, ensure_ascii=False) + "\n"
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            sys.exit(f"{OUT.relative_to(ROOT)} is out of date: run scripts/licences.py")
        print("licence list is current")
        return
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
