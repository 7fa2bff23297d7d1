"""Build-time checks of genprior's site: every code block is executed somewhere.

A page may show code in four ways, and each is checked when the page is read:

- a doctest (``>>>`` in a docstring, or a ``{doctest}`` block in a page): ``make docs``
  runs Sphinx's doctest builder, which executes it;
- a gallery example: sphinx-gallery executes the script that the page shows;
- a shell block (``console``, ``bash``, ``shell``): each ``genprior ...`` line is parsed
  against the command-line interface itself (every sub-command and ``--option`` must
  exist) and each ``make TARGET`` must be a target of the Makefile;
- a ``text`` block (output, a directory layout): not code.

Any other block that is Python (it parses) is reported, as is a block in an unknown
language, so a renamed function, command or option breaks the build (``-W``).

Known markup faults in docstrings that this round may not edit are listed in
``docstring-markup-allowlist.txt``: those warnings are held back (and counted at the end
of the build), an entry that no longer warns is itself a warning, and every other
warning still fails the build.  A docstring doctest listed there as ``NAME: doctest``
(one that cannot run as written) is shown as text instead of being run.
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
import shlex
from pathlib import Path

from docutils import nodes
from sphinx.util import logging as sphinx_logging
from sphinx.util.docutils import SphinxDirective

logger = sphinx_logging.getLogger(__name__)

SHELL = {"console", "bash", "shell", "sh", "shell-session"}
TEXT = {"text", "none", "output"}
PYTHON = {"python", "python3", "py", "default", "ipython", "ipython3", "pycon"}
ALLOWLIST = Path(__file__).resolve().parents[1] / "docstring-markup-allowlist.txt"
MAKEFILE = Path(__file__).resolve().parents[3] / "Makefile"


# -- shell lines -------------------------------------------------------------------------
def _logical_lines(text: str) -> list[str]:
    """Lines of a shell block with ``\\`` continuations joined and prompts removed."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [re.sub(r"^\s*\$\s+", "", line) for line in joined.splitlines() if line.strip()]


def _click_command():
    import typer

    from genprior.cli.commands import app

    return typer.main.get_command(app)


def _option_names(command) -> set[str]:
    names = {"--help"}
    for param in command.params:
        names.update(getattr(param, "opts", ()))
        names.update(getattr(param, "secondary_opts", ()))
    return names


def _is_group(command) -> bool:
    return hasattr(command, "commands")  # Typer vendors click: no isinstance(click.Group)


def check_genprior_command(tokens: list[str]) -> str | None:
    """The fault of ``genprior`` + ``tokens`` against the real CLI, or ``None`` if it parses.

    Sub-commands are followed down the groups; every ``--option`` (or ``-x``) must be one of
    the reached command's options.  Placeholders (``[OPTIONS]``, ``COMMAND``, ``NAME``) end the
    walk down the groups.
    """
    command, path = _click_command(), ["genprior"]
    i = 0
    while _is_group(command) and i < len(tokens):
        token = tokens[i]
        if token.startswith("-"):
            if token.split("=")[0] not in _option_names(command):
                return f"`{' '.join(path)}` has no option {token}"
            i += 1
            continue
        if token.startswith("[") or token.isupper():
            return None  # a usage line's placeholder
        sub = command.commands.get(token)
        if sub is None:
            return f"`{' '.join(path)}` has no command {token!r}"
        command, path = sub, [*path, token]
        i += 1
    options = _option_names(command)
    for token in tokens[i:]:
        if token.startswith("-") and not re.fullmatch(r"-\d.*", token):
            if token.split("=")[0] not in options:
                return f"`{' '.join(path)}` has no option {token}"
    return None


def _make_targets() -> set[str]:
    text = MAKEFILE.read_text()
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, flags=re.MULTILINE))


def check_shell_block(text: str) -> list[str]:
    """Faults of the ``genprior`` and ``make`` lines of a shell block (see the module docstring)."""
    faults = []
    for line in _logical_lines(text):
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as err:
            faults.append(f"cannot parse {line!r}: {err}")
            continue
        if not tokens:
            continue
        if tokens[0] == "make":
            targets = [t for t in tokens[1:] if not t.startswith("-") and "=" not in t]
            faults += [f"the Makefile has no target {t!r}" for t in targets if t not in _make_targets()]
        for k, token in enumerate(tokens):
            if token == "genprior" or token.endswith("/genprior"):
                fault = check_genprior_command(tokens[k + 1:])
                if fault:
                    faults.append(f"{fault} (in {line.strip()!r})")
                break
    return faults


# -- the doctree check -------------------------------------------------------------------
def hold_back_known_doctests(app, doctree) -> None:
    """Show the allowlist's broken docstring doctests as text instead of running them (and note them)."""
    broken = {name for name, message in _read_allowlist() if message == "doctest"}
    for node in list(doctree.findall(nodes.doctest_block)):
        match = re.search(r"docstring of ([\w.]+)$", node.source or "")
        if match and match.group(1) in broken:
            app.genprior_markup.seen.add((match.group(1), "doctest"))
            node.replace_self(nodes.literal_block(node.rawsource, node.astext(), language="text"))


def check_code_blocks(app, doctree) -> None:
    """Warn about every literal block of the page that nothing executes or checks."""
    hold_back_known_doctests(app, doctree)
    docname = app.env.docname
    gallery = app.config.sphinx_gallery_conf.get("gallery_dirs", "auto_examples")
    if docname.startswith(f"{gallery}/"):
        return  # shown and executed by sphinx-gallery
    for node in doctree.findall(nodes.literal_block):
        if node.get("testnodetype"):
            continue  # a {doctest} / testcode block: the doctest builder runs it
        language = (node.get("language") or "").lower()
        text = node.astext()
        if language in TEXT:
            continue
        if language in SHELL:
            for fault in check_shell_block(text):
                logger.warning("shell block: %s", fault, location=node, type="genprior", subtype="shell")
            continue
        if language and language not in PYTHON:
            logger.warning("code block in %r: neither executed nor checked (use a doctest, a gallery example, "
                           "a console block or a text block)", language, location=node, type="genprior", subtype="code")
            continue
        try:
            ast.parse(text)
        except SyntaxError:
            if not language or language == "default":
                continue  # a literal block that is not code (a layout, a diagram)
            logger.warning("Python block that does not parse", location=node, type="genprior", subtype="code")
            continue
        logger.warning("Python block that nothing executes: make it a doctest (>>>) or a gallery example",
                       location=node, type="genprior", subtype="code")


# -- the gallery: each example starts from the built-in registries -----------------------
def reset_registries(gallery_conf, fname) -> None:
    """sphinx-gallery's reset between examples: drop what an example added to the registries.

    The extension example registers a problem and a method; without this reset they would
    leak into later examples and into the CLI reference, which is read after the gallery runs.
    """
    import genprior as gp

    for name in ("METHODS", "PROBLEMS", "MODEL_KINDS"):
        registry = getattr(gp, name)
        for entry in [entry for entry in registry if registry.owner(entry) == "a script"]:
            registry.unregister(entry)


# -- the CLI reference, generated from the commands ----------------------------------------
class CliReference(SphinxDirective):
    """``.. genprior-cli::``: a section per command (usage, help, every option's help line).

    The lines are what ``genprior ... --help`` prints: click's own usage and help records of
    each parameter, taken from the Typer application at build time.
    """

    def run(self) -> list[nodes.Node]:
        command = _click_command()
        ctx = command.make_context("genprior", [], resilient_parsing=True)
        return [self._section(command, ctx, ["genprior"])]

    def _section(self, command, ctx, path: list[str]) -> nodes.section:
        title = " ".join(path)
        section = nodes.section(ids=[nodes.make_id("cli-" + title)], names=[nodes.fully_normalize_name(title)])
        section += nodes.title("", "", nodes.literal(text=title))
        if command.help:
            for paragraph in inspect.cleandoc(command.help).split("\n\n"):
                section += nodes.paragraph(text=" ".join(paragraph.split()))
        section += nodes.literal_block(text=command.get_usage(ctx), language="text")
        records = [(p, p.get_help_record(ctx)) for p in command.params]
        arguments = [p for p, record in records if record is None and not getattr(p, "hidden", False)]
        options = nodes.definition_list()
        for param in arguments:  # positional arguments print no help record
            item = nodes.definition_list_item()
            item += nodes.term("", "", nodes.literal(text=" ".join(param.get_usage_pieces(ctx))))
            item += nodes.definition("", nodes.paragraph(text="argument" + (" (required)" if param.required else "")))
            options += item
        for _, record in records:
            if record is not None:
                item = nodes.definition_list_item()
                item += nodes.term("", "", nodes.literal(text=record[0]))
                item += nodes.definition("", nodes.paragraph(text=" ".join(record[1].split())))
                options += item
        if len(options):
            section += options
        if _is_group(command):
            for name in command.list_commands(ctx):
                sub = command.commands[name]
                sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
                section += self._section(sub, sub_ctx, [*path, name])
        return section


# -- known docstring markup faults -------------------------------------------------------
def _read_allowlist() -> list[tuple[str, str]]:
    entries = []
    for line in ALLOWLIST.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, message = line.partition(": ")
            entries.append((name.strip(), message.strip()))
    return entries


class _KnownMarkupFaults(logging.Filter):
    """Holds back the docutils warnings listed in the allowlist and records which were seen."""

    def __init__(self) -> None:
        super().__init__()
        self.entries = _read_allowlist()
        self.seen: set[tuple[str, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        where = str(getattr(record, "location", "") or "")
        message = record.getMessage()
        for name, text in self.entries:
            if re.search(rf"docstring of {re.escape(name)}:\d+$", where) and message.startswith(text):
                self.seen.add((name, text))
                return False
        return True


def _install_filter(app) -> None:
    markup = _KnownMarkupFaults()
    app.genprior_markup = markup
    for handler in logging.getLogger(sphinx_logging.NAMESPACE).handlers:
        if isinstance(handler, sphinx_logging.WarningStreamHandler):
            handler.filters.insert(0, markup)  # before Sphinx counts the warning


def _note_full_read(app, env, docnames) -> None:
    app.genprior_full_read = set(docnames) >= set(env.found_docs)


def _report_markup(app, exception) -> None:
    if exception is not None or not getattr(app, "genprior_full_read", False):
        return  # an incremental build re-read only some docstrings: stale entries cannot be told
    markup = app.genprior_markup
    for entry in markup.entries:
        if entry not in markup.seen:
            logger.warning("docstring-markup-allowlist.txt: %s: %r no longer warns; remove the entry",
                           *entry, type="genprior", subtype="allowlist")
    if markup.seen:
        logger.info("genprior: %d known docstring markup faults held back (docstring-markup-allowlist.txt)",
                    len(markup.seen))


def setup(app):
    _install_filter(app)
    app.add_directive("genprior-cli", CliReference)
    app.connect("doctree-read", check_code_blocks)
    app.connect("env-before-read-docs", _note_full_read)
    app.connect("build-finished", _report_markup)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
