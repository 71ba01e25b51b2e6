"""The one exception type for bad input: it names the file, the row or column, and the problem."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input. The message is what the user sees, so it must say where and what."""

    def __init__(self, problem: str, *, path=None, row=None, column=None):
        where = []
        if path is not None:
            where.append(str(path))
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        self.path, self.row, self.column, self.problem = path, row, column, problem
        super().__init__(f"{': '.join([', '.join(where), problem]) if where else problem}")
