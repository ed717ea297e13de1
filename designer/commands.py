"""The one place a command turns a user's mistake into one line on stderr and an exit code.

What counts as the user's mistake: a `MixdesignError` (every input error of the core and the runtime subclasses
it, and says where), and an `OSError` on a path the user named (a file that cannot be read, a folder that cannot
be written), shown as `PATH: reason`. Anything else is a bug in mixdesign and keeps its traceback.
Exit codes: 0 done, 2 user error, 130 interrupted (Ctrl-C; what is on disk is complete, see each command).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from designer.errors import MixdesignError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def user_message(e: BaseException) -> str | None:
    """The one-line message of a user error, or None when `e` is not one."""
    if isinstance(e, MixdesignError):
        return str(e)
    if isinstance(e, OSError) and e.filename is not None:
        return f"{e.filename}: {e.strerror or e}"
    return None


def run_command(prog: str, func: Callable[[], int | None]) -> int:
    """Run a command's handler; a user error prints `PROG: error: MESSAGE` on stderr and returns 2."""
    try:
        return int(func() or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MixdesignError, OSError) as e:
        msg = user_message(e)
        if msg is None:
            raise
        print(f"{prog}: error: {msg}", file=sys.stderr)
        return EXIT_USER_ERROR


def guarded(command: str, func: Callable[[Any], int | None]) -> Callable[[Any], int]:
    """A handler with its full command name (`mixdesign workspace list`) in its one-line errors."""
    return lambda args: run_command(f"mixdesign {command}", lambda: func(args))
