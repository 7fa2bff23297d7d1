"""The documentation site's own checks: shell blocks against the CLI, docstring completeness, blank pages.

These run where the docs extra is installed (``make docs`` installs it; CI does); the
site build itself is ``make docs``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[1] / "docs" / "site"
pytest.importorskip("sphinx")
sys.path.insert(0, str(SITE / "_ext"))
sys.path.insert(0, str(SITE))

import check_docstrings  # noqa: E402
import check_pages  # noqa: E402
import genprior_docs  # noqa: E402


def test_shell_blocks_are_checked_against_the_cli_and_the_makefile():
    good = """genprior reconstruct --problem tomography --method hard --model runs/vae --data d.npz \\
    --noise 0.1 --out r.json   # a comment --not-an-option
$ genprior train vae --data shapes.npz --out runs/v --resume
torchrun --nproc_per_node 2 -m genprior train vae --data shapes.npz --out runs/ddp
make docs
pip install -e '.[docs]'"""
    assert genprior_docs.check_shell_block(good) == []
    faults = genprior_docs.check_shell_block("genprior reconstruct --problme tomography\n"
                                             "genprior frobnicate --out x\ngenprior train vea --data d.npz\n"
                                             "make docz")
    assert len(faults) == 4
    assert "has no option --problme" in faults[0] and "has no command 'frobnicate'" in faults[1]
    assert "`genprior train` has no command 'vea'" in faults[2] and "no target 'docz'" in faults[3]


def test_usage_placeholders_end_the_walk_down_the_groups():
    assert genprior_docs.check_genprior_command(["[OPTIONS]", "COMMAND", "[ARGS]..."]) is None
    assert genprior_docs.check_genprior_command(["data", "COMMAND"]) is None


def test_the_docstring_checker_names_what_is_missing():
    def incomplete(x, n: int = 1):
        """Does something."""

    def complete(x, n: int = 1):
        """Does something.

        Args:
            x: images ``[B, 1, H, W]``.
            n: how many.

        Returns:
            ``[B]`` values.

        Raises:
            InputError: bad ``n``.
        """

    complete.__annotations__ = {"x": "Tensor", "n": int, "return": "Tensor"}
    incomplete.__annotations__ = {"x": "Tensor", "n": int, "return": "Tensor"}
    assert check_docstrings.check_function("complete", complete) == []
    faults = check_docstrings.check_function("incomplete", incomplete)
    assert faults == ["incomplete: parameters not in Args: x, n", "incomplete: no Returns section",
                      "incomplete: no Raises section", "incomplete: tensors in or out, but no shape such as [B, 1, H, W]"]


def test_a_blank_screenshot_is_told_from_a_page():
    from PIL import Image, ImageDraw

    def png(draw: bool) -> bytes:
        image = Image.new("RGB", (200, 100), "white")
        if draw:
            ImageDraw.Draw(image).text((10, 10), "genprior " * 3, fill="black")
            ImageDraw.Draw(image).rectangle((10, 40, 190, 90), fill=(40, 90, 160), outline="black")
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    assert check_pages.not_blank(png(False), "page") and "looks blank" in check_pages.not_blank(png(False), "page")[0]
    assert check_pages.not_blank(png(True), "page") == []
