"""CPU time and memory of local processes, read from /proc (Linux only)."""

import os
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    cpu_seconds: float  # user plus system time since the process started
    rss_bytes: int


def sample(pid: int) -> ProcessSample | None:
    """Read /proc/<pid>/stat, or return None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name in field 2 may contain spaces, so split after its closing bracket.
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    rss_pages = int(fields[21])
    return ProcessSample(pid, (utime + stime) / CLOCK_TICKS, rss_pages * PAGE_SIZE)


def children(pid: int) -> list[int]:
    """Return the pids of the direct children of `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                text = handle.read()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(entry))
    return found


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
