"""Exit codes of every `smt` command (table in docs/operator-guide.md, section 8), used by the systemd unit.

The unit's ``RestartPreventExitStatus=`` lists the codes in ``NO_RESTART``: restarting cannot fix a
bad configuration, a second engine, a damaged database or a full disk, so systemd must not spin on them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the command could not do what was asked; the message says why
    CONFIG = 2  # configuration or command-line problem (also missing live-mode keys)
    ALREADY_RUNNING = 3  # another engine holds the database
    DATABASE = 4  # the database is damaged, not SMT's, from a newer SMT, or not a file
    DISK_FULL = 5  # SQLite could not write: free disk space
    NO_RESULT = 6  # a queued command got no result in time (the engine still handles it)
    NOT_RUNNING = 7  # `smt status`: reported, but no engine process holds the database
    INTERNAL = 70  # a bug: the traceback is on stderr (EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl-C
    BROKEN_PIPE = 141  # the reader of stdout went away (`smt ... | head`): 128 + SIGPIPE, as a shell reports


NO_RESTART = (ExitCode.CONFIG, ExitCode.ALREADY_RUNNING, ExitCode.DATABASE, ExitCode.DISK_FULL)
