"""User errors become one ``error:`` line with flags; bugs keep their traceback."""

from __future__ import annotations

import pytest
import torch

from cli_runner import run_cli
from genprior.cli import as_flags
from genprior.errors import DivergedError, InputError
from genprior.resources import ResourceLimitError


def test_python_arguments_are_written_as_flags():
    assert as_flags("pass `resume=True` to continue it or `force=True` to replace it") == \
        "pass --resume to continue it or --force to replace it"
    assert as_flags("use `device='cpu'`; `acquisition=\"any\"`; `off_n=`; `size=N`") == \
        "use --device cpu; --acquisition any; --off-n; --size N"
    assert as_flags("pass `source=DIR`") == "pass --src DIR"  # a flag spelled otherwise
    assert as_flags("no `backticked` argument here") == "no `backticked` argument here"


@pytest.mark.parametrize("error", [InputError("bad `max_iter=0`"), ResourceLimitError("too big"),
                                   FileNotFoundError("no such file"), DivergedError("NaN loss")])
def test_user_errors_are_one_line(monkeypatch, tmp_path, capsys, error):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("genprior.data.shapes.shapes_dataset", fail)
    assert run_cli(["data", "shapes", "--n", "2", "--n-test", "1", "--out", str(tmp_path / "s.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    if isinstance(error, InputError) and "max_iter" in str(error):
        assert "--max-iter 0" in err


@pytest.mark.parametrize("bug", [TypeError("unexpected keyword"), KeyError("missing"), AttributeError("no such"),
                                 ValueError("max() arg is an empty sequence"), FloatingPointError("a bug's NaN")])
def test_bugs_keep_their_traceback(monkeypatch, tmp_path, bug):
    def fail(*args, **kwargs):
        raise bug

    monkeypatch.setattr("genprior.data.shapes.shapes_dataset", fail)
    with pytest.raises(type(bug)):
        run_cli(["data", "shapes", "--n", "2", "--n-test", "1", "--out", str(tmp_path / "s.npz")])


def test_a_bug_inside_a_method_reaches_the_terminal_as_a_traceback(tmp_path):
    """A method (from an installed package) whose code raises KeyError: the traceback shows, while a bad flag to
    the same command is one error line."""
    from genprior.data.io import save_dataset
    from outside_package import genprior_beside, outside_package

    source = '''
        from dataclasses import dataclass

        from genprior.methods import Method
        from genprior.methods.parameters import MethodParams


        @dataclass(frozen=True)
        class BuggyParams(MethodParams):
            pass


        def buggy(physics, y, generator=None, **params):
            return {}["a key the code forgot"]


        METHOD = Method(buggy, BuggyParams)
    '''
    root = outside_package(tmp_path, "buggyext", {"buggy": source}, {"genprior.methods": {"buggy": "buggyext.buggy:METHOD"}})
    save_dataset(root / "d.npz", train=torch.rand(4, 1, 8, 8), test=torch.rand(4, 1, 8, 8), meta={"dataset": "t"})
    args = ["reconstruct", "--problem", "denoising", "--method", "buggy", "--data", str(root / "d.npz"), "--out",
            str(root / "r.json")]
    bug = genprior_beside(root, args)
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "KeyError: 'a key the code forgot'" in bug.stderr
    bad_flag = genprior_beside(root, [*args[:-2], "--noise", "-1", "--out", str(root / "r.json")])
    assert bad_flag.returncode == 2 and bad_flag.stderr.startswith("error: ") and "Traceback" not in bad_flag.stderr
