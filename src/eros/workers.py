"""Child processes die with the process that started them.

`eros run` plans pages in forked worker processes and writes the workbook in another. They wait on
queues whose write ends every sibling also holds, so when `eros run` is killed (kill -9, the OOM
killer) they would wait forever, holding the store file's pages in memory and the output open.
`die_with_parent` is called first thing in each child: as a `ProcessPoolExecutor` initializer and
at the start of the workbook writer.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_INTERVAL_S = 0.5  # how often the portable fallback looks at its parent


def die_with_parent() -> None:
    """End this process when its parent process ends, however the parent ends.

    On Linux the kernel sends SIGKILL (prctl PR_SET_PDEATHSIG); elsewhere a daemon thread polls
    the parent's pid. The parent is the one multiprocessing recorded before the fork, so a parent
    that died before this call is noticed too. Linux signals the death of the parent's forking
    thread: start the children from a thread that outlives them (run_pages does).
    """
    expected = _parent_pid()
    if not _kernel_signals_parent_death():
        threading.Thread(
            target=_watch_parent, args=(expected,), name="eros-die-with-parent", daemon=True
        ).start()
        return
    if os.getppid() != expected:  # the parent died between the fork and the prctl
        os.kill(os.getpid(), signal.SIGKILL)


def _parent_pid() -> int:
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        return parent.pid
    return os.getppid()


def _kernel_signals_parent_death() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(expected: int) -> None:
    while os.getppid() == expected:
        time.sleep(WATCH_INTERVAL_S)
    os._exit(1)
