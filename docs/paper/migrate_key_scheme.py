"""One-off: carry the committed paper results over to the settings keys that cover each experiment's setup.

Until this change a result's settings key covered its name, the mode, the preset, the
protocol, the package version and its generators' recipes; now it covers the experiment's
setup (its module's constants) and the data sizes instead of the version, and each result
carries the fingerprint of the code that computed it (`genprior.experiments.paper.runner`).
The ~21 CPU hours of results in docs/paper stay valid: their setup is unchanged (each carried
the key the old scheme still gives, and the constants moved into the new key hold the values
that computed them), and the current solvers give bit-identical results to the code that
computed them (a check of 20 solves, every method on tomography and CS, run after merging
main on 2026-12-07: 0 differ).  Figure 11's figure solves its five shown images again when
drawn (as it did when published; about 80 s); nothing else is solved.

For each experiment this script

1. checks that its result.json and parts/SETTINGS carry the key the old scheme gives now
   (so every result is current under the old scheme; it refuses otherwise);
2. writes the new key into parts/SETTINGS and result.json (and the new keys of the results
   it reads), with an entry in the result's ``code_changes`` naming the old key and why
   carrying it over is valid (``WHY``), leaving the code fingerprint unrecorded;
3. runs `genprior paper all` with `--accept-code-change` and REASON, which stamps the current
   fingerprint, records REASON in every result.json and makes every report and figure again
   from the cached parts.  Any sign of computing (a part or a generator not in the cache)
   stops it.

    .venv/bin/python docs/paper/migrate_key_scheme.py [--out docs/paper]

Afterwards `genprior paper all --out docs/paper` skips every experiment.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import re
from dataclasses import asdict
from pathlib import Path

REASON = ("no code fingerprint was recorded before the new key scheme; the solvers were checked bit for bit "
          "against the code that computed these results (20 solves: every generative and classical method, the "
          "range projection, on tomography and CS; 0 differ)")
WHY = ("the old key covered the name, mode, preset, protocol, package version and generator recipes; the new one "
       "covers the experiment's setup constants and the data sizes instead of the version. This result carried "
       "the key the old scheme gives for today's setup, and the setup constants moved into the key hold the values "
       "that were in the code that computed it, so its setup is the one that produced it")


def legacy_key(assets, protocol, experiment) -> str:
    """The settings key of the old scheme (runner.settings_key before this change)."""
    from genprior import __version__
    from genprior.training.recipes import recipe

    recipes = {}
    for entry in experiment.generators:
        kind, dataset = entry.split("-", 1)
        values = recipe(kind, dataset, assets.preset).as_dict()
        recipes[entry] = {k: v for k, v in values.items() if k != "source"}
    blob = json.dumps({"name": experiment.name, "quick": assets.quick, "preset": assets.preset,
                       "protocol": asdict(protocol), "version": __version__, "recipes": recipes}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def rekey(out: Path) -> None:
    from genprior.atomic import write_json_atomic, write_text_atomic
    from genprior.experiments.paper import EXPERIMENTS
    from genprior.experiments.paper.assets import Assets
    from genprior.experiments.paper.protocol import Protocol
    from genprior.experiments.paper.runner import PARTS_CODE, PARTS_SETTINGS, settings_key

    assets, protocol = Assets(out, log=print), Protocol()
    keys = {name: settings_key(assets, protocol, exp) for name, exp in EXPERIMENTS.items()}
    for name, exp in EXPERIMENTS.items():
        result_path, stamp = out / name / "result.json", out / name / "parts" / PARTS_SETTINGS
        result = json.loads(result_path.read_text())
        old = legacy_key(assets, protocol, exp)
        if result["key"] == keys[name] and stamp.read_text().strip() == keys[name]:
            print(f"{name}: already under the new scheme ({keys[name]})")
            continue
        if result["key"] != old or stamp.read_text().strip() != old:
            raise SystemExit(f"{name}: its result ({result['key']}) or parts ({stamp.read_text().strip()}) are not "
                             f"current under the old scheme ({old}); refusing to carry them over")
        if (out / name / "parts" / PARTS_CODE).exists():
            raise SystemExit(f"{name}: parts/{PARTS_CODE} exists already; refusing")
        migration = {"from_key": old, "reason": WHY, "modules": [], "date": datetime.date.today().isoformat()}
        result.update(key=keys[name], reads={read: keys[read] for read in exp.reads},
                      code_changes=[*result.get("code_changes", []), migration])
        write_text_atomic(stamp, keys[name] + "\n")
        write_json_atomic(result_path, result)
        print(f"{name}: {old} -> {keys[name]}")


def restamp(out: Path) -> None:
    """`genprior paper all --accept-code-change REASON`, stopped at the first sign of computing."""
    from genprior.experiments.paper import run_paper

    def log(message: str) -> None:
        print(message, flush=True)
        if re.match(r"  \S+: ", message) or message.startswith(("training", "resuming")):
            raise SystemExit(f"stopped: this would compute ({message.strip()}); nothing of the results was replaced "
                             "except the experiments restamped above")

    run_paper(["all"], out, log=log, accept_code_change=REASON)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/paper"), help="the paper run directory")
    args = parser.parse_args()
    rekey(args.out)
    restamp(args.out)


if __name__ == "__main__":
    main()
