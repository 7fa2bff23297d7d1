"""Run every benchmark script in this folder with --record, one after the other.

A script whose peers are not installed (``OPTIONAL``) is skipped with a line saying so.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

# script -> the modules it needs beyond genprior's own dependencies (the `peers` extra)
OPTIONAL = {"bench_peers.py": ("odl", "astra")}

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for script in sorted(here.glob("bench_*.py")):
        missing = [m for m in OPTIONAL.get(script.name, ()) if importlib.util.find_spec(m) is None]
        if missing:
            print(f"== {script.name}: skipped ({', '.join(missing)} not installed; "
                  "`.venv/bin/pip install odl==1.0.0 astra-toolbox` to run it)", flush=True)
            continue
        print(f"== {script.name}", flush=True)
        subprocess.run([sys.executable, str(script), "--record"], check=True)
