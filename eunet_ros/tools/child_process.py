# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""
Child processes whose output goes to a log file, stopped the way Ctrl-C stops them.

Used by the tools that run the node as a separate process (``make demo``, the
end-to-end node benchmark): a child that dies is reported with the tail of its
log, and :meth:`ChildProcess.stop` ends it with SIGINT first (a ROS node shuts
down cleanly on it), then SIGTERM, then SIGKILL. ROS-free.
"""

from __future__ import annotations

from pathlib import Path
import signal
import subprocess
from typing import Dict, List, Optional, Union

__all__ = ['ChildExited', 'ChildProcess']


class ChildExited(RuntimeError):
    """A child process ended on its own; the message has its status and the end of its log."""


class ChildProcess:
    """
    A child process with stdout and stderr in ``logfile``.

    :param name: what the messages call it (e.g. ``segment_node``).
    :param cmd: the command line.
    :param env: its environment (default: this process's).
    :param logfile: where its output goes (overwritten).
    :param cwd: its working directory.
    :param new_session: start it in a session of its own, so a Ctrl-C in the terminal
        reaches only this process, which then stops the child itself.
    :ivar proc: the :class:`subprocess.Popen`.

    """

    def __init__(self, name: str, cmd: List[str], *, logfile: Union[str, Path],
                 env: Optional[Dict[str, str]] = None,
                 cwd: Optional[Union[str, Path]] = None, new_session: bool = False) -> None:
        self.name = name
        self.logfile = Path(logfile)
        self._fh = open(self.logfile, 'w')
        try:
            self.proc = subprocess.Popen(cmd, env=env, stdout=self._fh,
                                         stderr=subprocess.STDOUT, cwd=cwd,
                                         start_new_session=new_session)
        except BaseException:
            self._fh.close()
            raise

    def check_alive(self) -> None:
        """Raise :class:`ChildExited` with the tail of the log if the process has exited."""
        rc = self.proc.poll()
        if rc is not None:
            raise ChildExited(f'{self.name} exited with status {rc}; last lines of '
                              f'{self.logfile}:\n{self.tail()}')

    def tail(self, n: int = 15) -> str:
        """Return the last ``n`` lines of the log."""
        if not self._fh.closed:
            self._fh.flush()
        try:
            return '\n'.join(self.logfile.read_text(errors='replace').splitlines()[-n:])
        except OSError:
            return ''

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """Send SIGINT (Ctrl-C), wait, escalate to SIGTERM/SIGKILL; return the exit code."""
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0),
                              (signal.SIGKILL, 5.0)):
                try:
                    self.proc.send_signal(sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if not self._fh.closed:
            self._fh.close()
        return self.proc.returncode
