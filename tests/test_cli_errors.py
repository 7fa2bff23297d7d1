"""User errors become one ``error:`` line with flags; bugs keep their traceback."""

from __future__ import annotations

import pytest

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
