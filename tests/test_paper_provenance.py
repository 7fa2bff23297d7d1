"""`genprior paper` results are never stale: a changed setup is computed again, changed code stops the run."""

from __future__ import annotations

import importlib
import json
import os
import uuid
from dataclasses import replace

import pytest

FAKE = '''"""A tiny experiment for the tests: one part, scaled by the setup constant SCALE."""

from genprior.metrics import psnr  # reaches genprior code, as a real experiment does

SCALE = 2
computed = []  # lower case: bookkeeping of the test, not setup


def run(ctx):
    value = ctx.part("cell", lambda: computed.append(SCALE) or {"v": SCALE * 21})  # the computation
    return {"markdown": f"## fake {value['v']}", "value": value["v"], "claims": []}
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """An experiment in its own module file (a fresh package name per test: fresh imports and caches)."""
    from genprior.experiments.paper.runner import Experiment

    package = f"fake_paper_{uuid.uuid4().hex[:8]}"
    (tmp_path / "src" / package).mkdir(parents=True)
    (tmp_path / "src" / package / "__init__.py").write_text("")
    path = tmp_path / "src" / package / "experiment.py"
    path.write_text(FAKE)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    module = importlib.import_module(f"{package}.experiment")
    return module, path, Experiment("fake", "a fake experiment", (1, 1), (), module.run)


def _run(tmp_path, experiment, accept=None):
    from genprior.experiments.paper.assets import Assets
    from genprior.experiments.paper.protocol import Protocol
    from genprior.experiments.paper.runner import run_experiments

    log = []
    assets = Assets(tmp_path / "run", quick=True, log=log.append)
    done = run_experiments([experiment], assets, Protocol.quick(), "# header", order=[experiment], accept=accept)
    return done["fake"], log


def _edit(path, old, new):
    """Edit a source file so that its new content is seen (a later modification time)."""
    path.write_text(path.read_text().replace(old, new))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))


def test_a_changed_setup_value_is_computed_again(tmp_path, fake, monkeypatch):
    module, _, experiment = fake
    first, _ = _run(tmp_path, experiment)
    again, log = _run(tmp_path, experiment)
    assert module.computed == [2] and again["value"] == 42 and any("finished earlier, skipped" in m for m in log)
    monkeypatch.setattr(module, "SCALE", 3)  # the setup changed, the code did not
    changed, log = _run(tmp_path, experiment)
    assert module.computed == [2, 3] and changed["value"] == 63 and changed["key"] != first["key"]
    assert not any("skipped" in m for m in log)
    assert (tmp_path / "run" / "fake" / f"parts.stale-{first['key']}" / "cell.json").exists()


def test_the_real_experiments_keys_cover_their_setup_and_the_data_sizes(monkeypatch):
    from genprior.experiments.paper import EXPERIMENTS, tables
    from genprior.experiments.paper import assets as assets_module
    from genprior.experiments.paper.assets import Assets
    from genprior.experiments.paper.protocol import Protocol
    from genprior.experiments.paper.runner import settings_key

    assets, protocol = Assets(".", log=lambda _: None), Protocol()
    before = {name: settings_key(assets, protocol, exp) for name, exp in EXPERIMENTS.items()}
    monkeypatch.setattr(tables, "MNIST_CS", replace(tables.MNIST_CS, noise=0.1))
    after = {name: settings_key(assets, protocol, exp) for name, exp in EXPERIMENTS.items()}
    assert {name for name in before if before[name] != after[name]} == {"fig9", "fig10"}  # tables.py's experiments
    monkeypatch.setitem(assets_module.SIZES, "shapes-plus", (0, 2_000))
    assert all(settings_key(assets, protocol, exp) != after[name] for name, exp in EXPERIMENTS.items())


def test_changed_code_stops_the_run_and_an_accepted_change_is_restamped(tmp_path, fake):
    from genprior.experiments.paper.runner import CodeChanged

    module, path, experiment = fake
    first, _ = _run(tmp_path, experiment)
    _edit(path, "# the computation", "# the computation, described again")  # a comment: not a change of code
    assert _run(tmp_path, experiment)[0]["code"] == first["code"]
    _edit(path, 'SCALE * 21}', 'SCALE * 21 + 0}')  # the same numbers, other code
    with pytest.raises(CodeChanged) as stop:
        _run(tmp_path, experiment)
    message = str(stop.value)
    assert f"fake: {module.__name__}" in message and "--accept-code-change" in message
    assert str(tmp_path / "run" / "fake") in message  # how to recompute: delete it
    (tmp_path / "run" / "fake" / "result.json").unlink()  # unfinished work (its parts) is checked too
    with pytest.raises(CodeChanged):
        _run(tmp_path, experiment)
    kept, log = _run(tmp_path, experiment, accept="a refactor, checked bit-identical")
    assert module.computed == [2] and kept["value"] == 42  # nothing computed again
    assert kept["code"] != first["code"] and kept["key"] == first["key"]
    assert kept["code_changes"][-1]["reason"] == "a refactor, checked bit-identical"
    assert kept["code_changes"][-1]["modules"] == [module.__name__]
    assert any("accepted" in m for m in log)
    assert "code change accepted" in (tmp_path / "run" / "REPORT.md").read_text()
    stamped = json.loads((tmp_path / "run" / "fake" / "parts" / "CODE").read_text())
    assert stamped["code"] == kept["code"] and stamped["code_changes"] == kept["code_changes"]
    again, log = _run(tmp_path, experiment)
    assert any("skipped" in m for m in log) and again["code_changes"] == kept["code_changes"]


def test_the_fingerprint_covers_what_the_computation_reaches_and_not_the_report():
    from genprior.experiments.paper.provenance import changed_modules, code_modules, module_setup

    modules = code_modules("genprior.experiments.paper.tables")
    assert {"genprior.solvers.backtracking", "genprior.methods.relaxed", "genprior.physics.tomography",
            "genprior.experiments.paper.protocol", "genprior.experiments.paper.assets",
            "genprior.models.vae"} <= set(modules)  # the VAE class is named in a registry string
    assert not {"genprior.experiments.paper.runner", "genprior.experiments.paper.claims", "genprior.figures",
                "genprior.training.loop"} & set(modules)
    setup = module_setup("genprior.experiments.paper.tables")
    assert setup["MNIST_CS"]["noise"] == 0.05 and "TableSetup" not in setup and "_SHOWN" not in setup
    assert changed_modules({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == ["b", "c (new)"]
    assert changed_modules(None, {"a": "1"}) == ["(no fingerprint recorded)"]


def test_accepting_a_code_change_needs_a_reason(tmp_path):
    from genprior.errors import InputError
    from genprior.experiments.paper import run_paper

    with pytest.raises(InputError, match="needs a reason"):
        run_paper(["fig7"], tmp_path, quick=True, accept_code_change="  ", log=lambda _: None)


def test_a_carried_over_key_is_stated_in_the_report_and_kept_through_an_accepted_change(tmp_path, fake):
    """A result migrated from the old key scheme (docs/paper/migrate_key_scheme.py) keeps the record."""
    module, path, experiment = fake
    first, _ = _run(tmp_path, experiment)
    result_path = tmp_path / "run" / "fake" / "result.json"
    migrated = {"from_key": "0123456789abcdef", "reason": "its setup is the one that produced it", "modules": [],
                "date": "2026-12-07"}
    result_path.write_text(json.dumps({**first, "code_changes": [migrated]}))
    (tmp_path / "run" / "fake" / "parts" / "CODE").unlink()  # as before the fingerprint was recorded
    _edit(path, 'SCALE * 21}', 'SCALE * 21 + 0}')
    kept, _ = _run(tmp_path, experiment, accept="checked bit-identical")
    assert module.computed == [2] and kept["code_changes"][0] == migrated
    assert kept["code_changes"][1]["reason"] == "checked bit-identical"
    report = (tmp_path / "run" / "REPORT.md").read_text()
    assert "settings key carried over 2026-12-07 from the old key scheme (0123456789abcdef)" in report
    assert "code change accepted" in report


def test_a_section_of_changed_settings_stays_in_the_report_marked_stale_until_recomputed(tmp_path, fake, monkeypatch):
    from genprior.experiments.paper.assets import Assets
    from genprior.experiments.paper.claims import claim
    from genprior.experiments.paper.protocol import Protocol
    from genprior.experiments.paper.runner import Experiment, run_experiments

    module, _, experiment = fake
    def run(ctx):
        return {"markdown": "## fake\n\nvalue 42", "claims": [claim("Figure 12", "a claim", "42", False,
                                                                     cause="the set-up")]}

    run.__module__ = module.__name__  # its setup: the fake module's constants
    experiment = Experiment("fake", "a fake experiment", (1, 1), (), run)
    other = Experiment("other", "another", (1, 1), (), lambda ctx: {"markdown": "## other", "claims": [
        claim("Figure 9", "another claim", "1", True)]})
    assets = Assets(tmp_path / "run", quick=True, log=lambda _: None)
    run_experiments([experiment, other], assets, Protocol.quick(), "# header", order=[experiment, other])
    monkeypatch.setattr(module, "SCALE", 3)  # fake's setup changed: its result is no longer finished
    run_experiments([other], assets, Protocol.quick(), "# header", order=[experiment, other])
    report = (tmp_path / "run" / "REPORT.md").read_text()
    assert report.index("## fake") < report.index("**Stale: computed under other settings**") \
        < report.index("value 42") < report.index("## other")  # kept, in its place, marked below its heading
    assert "`genprior paper fake` recomputes it" in report
    assert "| a claim |" not in report and "1 claims so far" in report  # its claims are not counted
    assert "(fake (its section below is stale) still to run)" in report
    run_experiments([experiment], assets, Protocol.quick(), "# header", order=[experiment, other])
    report = (tmp_path / "run" / "REPORT.md").read_text()
    assert "Stale" not in report and "| a claim | 42 | **differs** | the set-up |" in report
