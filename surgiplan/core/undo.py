"""Global undo/redo: a bounded stack of small commands (ARCHITECTURE.md rule 8).

Every edit anywhere in a case (a label-map patch, a model operation, an implant
move, a landmark move, a plan duplication) is a :class:`Command` that stores only
what changed and knows how to ``apply`` and ``revert`` itself. One
:class:`History` per open case holds them; the CLI, scripts and the GUI all go
through it, so Ctrl+Z in the window and ``history.undo()`` in a script are the
same call.

Memory is bounded: the oldest steps are dropped once the commands' ``nbytes``
add up to more than ``max_bytes`` or there are more than ``max_steps``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@runtime_checkable
class Command(Protocol):
    """An undoable edit. ``apply`` does (or redoes) it, ``revert`` undoes it."""

    description: str

    def apply(self) -> None: ...

    def revert(self) -> None: ...

    @property
    def nbytes(self) -> int:
        """Approximate memory the command holds (bytes), for the history's bound."""
        ...


@dataclass
class FunctionCommand:
    """A command made of two callables (for small state changes such as a rename)."""

    description: str
    do: Callable[[], None]
    undo: Callable[[], None]
    size: int = 256

    def apply(self) -> None:
        self.do()

    def revert(self) -> None:
        self.undo()

    @property
    def nbytes(self) -> int:
        return self.size


@dataclass
class CompoundCommand:
    """Several commands undone and redone as one step (reverted in reverse order)."""

    description: str
    commands: list[Command] = field(default_factory=list)

    def apply(self) -> None:
        for c in self.commands:
            c.apply()

    def revert(self) -> None:
        for c in reversed(self.commands):
            c.revert()

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self.commands)


class History:
    """Undo/redo stack with a memory bound.

    ``push(cmd)`` records a command that has already been applied (pass
    ``apply=True`` to have the history apply it first). Listeners registered with
    :meth:`subscribe` are called after every change (the GUI refreshes there).
    """

    def __init__(self, max_bytes: int = 512 * 1024**2, max_steps: int = 500) -> None:
        self.max_bytes = int(max_bytes)
        self.max_steps = int(max_steps)
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._listeners: list[Callable[[], None]] = []
        self._group: CompoundCommand | None = None
        self._group_depth = 0

    # ------------------------------------------------------------------ state
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_description(self) -> str | None:
        return self._undo[-1].description if self._undo else None

    @property
    def redo_description(self) -> str | None:
        return self._redo[-1].description if self._redo else None

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._undo) + sum(c.nbytes for c in self._redo)

    def __len__(self) -> int:
        return len(self._undo)

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every push/undo/redo; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _notify(self) -> None:
        for fn in list(self._listeners):
            fn()

    # ---------------------------------------------------------------- editing
    def push(self, command: Command, *, apply: bool = False) -> Command:
        """Record ``command`` (applying it first when ``apply``); clears the redo stack."""
        if apply:
            command.apply()
        if self._group is not None:
            self._group.commands.append(command)
            return command
        self._undo.append(command)
        self._redo.clear()
        self._trim()
        self._notify()
        return command

    def undo(self) -> Command | None:
        """Revert the last command; returns it (None when there is nothing to undo)."""
        if not self._undo:
            return None
        cmd = self._undo.pop()
        cmd.revert()
        self._redo.append(cmd)
        self._notify()
        return cmd

    def redo(self) -> Command | None:
        """Re-apply the last undone command; returns it (None when there is nothing)."""
        if not self._redo:
            return None
        cmd = self._redo.pop()
        cmd.apply()
        self._undo.append(cmd)
        self._notify()
        return cmd

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._notify()

    @contextmanager
    def group(self, description: str) -> Iterator[CompoundCommand]:
        """Record every push inside the block as one undo step."""
        outer = self._group is None
        if outer:
            self._group = CompoundCommand(description)
        self._group_depth += 1
        group = self._group
        try:
            yield group  # type: ignore[misc]
        finally:
            self._group_depth -= 1
            if outer:
                self._group = None
                if group is not None and group.commands:
                    self.push(group)

    def _trim(self) -> None:
        while len(self._undo) > self.max_steps:
            self._undo.pop(0)
        while len(self._undo) > 1 and self.nbytes > self.max_bytes:
            self._undo.pop(0)
