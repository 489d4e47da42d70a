"""What a short-lived forked child (the code box's sandbox, an upload's reader) does first with
the descriptors it inherited: every one but its reply pipe is pointed at ``/dev/null``.

Pointed, not closed: objects inherited from the parent may own a descriptor (a torch storage
mapped from a file, a shared-memory segment) and close it when the child frees them; closing
an already closed descriptor makes c10 throw from a destructor, which aborts the child
(``could not close file descriptor … Bad file descriptor``). A descriptor turned into
``/dev/null`` reads and writes nothing, and closes cleanly."""

from __future__ import annotations

import os


def seal_descriptors(keep: int) -> None:
    """Replace every open descriptor from 3 up, except ``keep``, by ``/dev/null``."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc (macOS): the usual range
        fds = list(range(3, 1 << 12))
    for fd in fds:
        if fd < 3 or fd in (keep, null):
            continue
        try:
            os.fstat(fd)  # open? (the listing's own descriptor is gone by now)
            os.dup2(null, fd)
        except OSError:
            pass
    os.close(null)


def trim_heap() -> None:
    """Give the C heap's free pages back to the OS (glibc keeps what a training or a large
    forward pass freed). A forked child calls it before it measures its address space for its
    memory cap: free heap it inherited would otherwise be room beyond the cap."""
    import contextlib
    import ctypes
    import ctypes.util

    with contextlib.suppress(Exception):
        name = ctypes.util.find_library("c")
        if name and "libc" in name:
            ctypes.CDLL(name).malloc_trim(0)


def free_heap() -> int:
    """Bytes free inside the C heap (glibc's ``mallinfo2().fordblks``; 0 where unknown):
    memory the process can reuse without growing its address space."""
    import contextlib
    import ctypes
    import ctypes.util

    class _Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
                                                   "hblkhd", "usmblks", "fsmblks", "uordblks",
                                                   "fordblks", "keepcost")]

    with contextlib.suppress(Exception):
        name = ctypes.util.find_library("c")
        if name and "libc" in name:
            fn = ctypes.CDLL(name).mallinfo2
            fn.restype = _Info
            return int(fn().fordblks)
    return 0


def limit_self(memory: int, cpu_s: int) -> None:
    """The child's own limits: address space (what it holds now plus ``memory`` bytes, less the
    free heap it inherited — that is reused without growing the address space — but at least a
    quarter of ``memory``), ``cpu_s`` CPU seconds, no core file."""
    import resource

    trim_heap()
    try:
        with open("/proc/self/statm") as f:
            vm = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        cap = vm + max(memory - free_heap(), memory // 4)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except OSError:  # no /proc (macOS): CPU and wall-clock limits still hold
        pass
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
