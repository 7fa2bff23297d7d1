"""Registries that genprior and packages installed beside it add entries to.

Each registry (the methods, the inverse problems, the model kinds, the paper's
experiments) is a read-only mapping ``name -> entry``.  It holds genprior's built-in
entries and those that installed packages declare in the registry's entry-point group,
for example in a package's ``pyproject.toml``::

    [project.entry-points."genprior.methods"]
    landweber = "mypackage.landweber:METHOD"

Entry points are loaded the first time the registry is read (so ``import genprior``
stays fast); a script can also add an entry with :meth:`Registry.register`.  Every
entry is checked against the registry's entry type, and a name can be taken once: a
second entry of the same name is refused with an error naming both owners, so an
installed package can never silently replace a built-in.

=================== ========================= ====================================================
registry            entry-point group         entry
=================== ========================= ====================================================
``METHODS``         ``genprior.methods``      :class:`genprior.methods.Method`
``PROBLEMS``        ``genprior.problems``     a :class:`genprior.physics.options.ProblemOptions` subclass
``MODEL_KINDS``     ``genprior.model_kinds``  :class:`genprior.models.kinds.ModelKind`
``EXPERIMENTS``     ``genprior.experiments``  :class:`genprior.experiments.paper.runner.Experiment`
=================== ========================= ====================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from genprior.errors import InputError
from genprior.validation import check_choice

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """A named collection of entries: built-ins, installed packages' entry points and registered ones.

    Args:
        what: what an entry is called in messages (``"method"``).
        group: the entry-point group installed packages declare entries in (``"genprior.methods"``).
        check: ``check(entry)`` returns whether an object can be an entry.
        expected: what an entry must be, for the error message (``"a genprior.methods.Method"``).
        builtins: genprior's own entries, in the order they are listed.
    """

    def __init__(self, what: str, group: str, check: Callable[[object], bool], expected: str,
                 builtins: Mapping[str, T]) -> None:
        self.what, self.group, self._check, self._expected = what, group, check, expected
        self._entries: dict[str, T] = {}
        self._owners: dict[str, str] = {}
        self._loaded = False
        for name, entry in builtins.items():
            self._add(name, entry, "genprior")

    # -- adding entries --------------------------------------------------------------------
    def _add(self, name: str, entry: T, owner: str) -> None:
        if not isinstance(name, str) or not name or name != name.strip():
            raise InputError(f"a {self.what} name must be a non-empty string without surrounding spaces, got {name!r}")
        if not self._check(entry):
            raise InputError(f"{owner}'s {self.what} {name!r} is {type(entry).__name__}, not {self._expected}")
        if name in self._entries:
            raise InputError(f"{owner} registers the {self.what} {name!r}, which {self._owners[name]} already "
                             f"provides; choose another name")
        self._entries[name] = entry
        self._owners[name] = owner

    def _load_entry_points(self) -> None:
        """Add the entries installed packages declare in :attr:`group` (once)."""
        if self._loaded:
            return
        self._loaded = True
        from importlib.metadata import entry_points

        for point in sorted(entry_points(group=self.group), key=lambda p: p.name):
            owner = f"package {point.dist.name if point.dist is not None else '?'!r} (entry point {point.value!r})"
            try:
                entry = point.load()
            except Exception as exc:  # an outside package's import failed: say whose, keep the cause
                raise InputError(f"the {self.what} {point.name!r} of {owner} in group {self.group!r} could not be "
                                 f"loaded: {type(exc).__name__}: {exc}") from exc
            self._add(point.name, entry, owner)

    def register(self, name: str, entry: T, owner: str = "a script") -> T:
        """Add ``entry`` under ``name``; returns the entry.

        Raises:
            InputError: the name is taken, or ``entry`` is not of the registry's type.
        """
        self._load_entry_points()
        self._add(name, entry, owner)
        return entry

    def unregister(self, name: str) -> None:
        """Remove an entry added by :meth:`register` (built-ins stay)."""
        if self._owners.get(name) == "genprior":
            raise InputError(f"the built-in {self.what} {name!r} cannot be removed")
        self._entries.pop(name, None)
        self._owners.pop(name, None)

    # -- reading ---------------------------------------------------------------------------
    def get_entry(self, name: str) -> T:
        """The entry ``name``; :class:`InputError` listing the choices if there is none."""
        self._load_entry_points()
        check_choice(name, tuple(self._entries), self.what)
        return self._entries[name]

    def owner(self, name: str) -> str:
        """Who provides ``name``: ``"genprior"``, a package or a script."""
        self._load_entry_points()
        return self._owners[name]

    def builtins(self) -> tuple[str, ...]:
        """The names of genprior's own entries."""
        return tuple(name for name, owner in self._owners.items() if owner == "genprior")

    def __getitem__(self, name: str) -> T:
        self._load_entry_points()
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        self._load_entry_points()
        return iter(self._entries)

    def __len__(self) -> int:
        self._load_entry_points()
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {list(self)})"


__all__ = ["Registry"]
