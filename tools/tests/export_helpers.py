"""Set-up shared by test_export.py and test_export_external.py: tools/export on sys.path, its `export` and `fixtures`
scripts loaded under unique module names, tools/pack.py, whether an ONNX Runtime is available, and run_export.

`export` and `fixtures` are also module names elsewhere in tools/ (tools/diffusion/export.py), and unittest discovery
imports every test module into one process: they are loaded by file path as ``concert_tools_export_<name>``.
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "export"))

import ex_common  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tools"))
import pack as packlib  # noqa: E402
from common.modules import sibling_loader  # noqa: E402

# tools/export/<name>.py under a unique module name.
_load = sibling_loader(os.path.join(ROOT, "tools", "export"), "concert_tools_export_")

export = _load("export")
fixtures = _load("fixtures")

HAVE_ORT = ex_common.ort_backend() is not None


def run_export(*argv):
    return export.main(list(argv) + ["--licence", "MIT"])
