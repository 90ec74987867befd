"""What all readers share: the plan of files to read, byte counting for progress, file checks."""
from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..records import ImportSetupError

CHUNK = 1 << 20


@dataclass(frozen=True)
class Plan:
    """The validated set of files to read, with the bytes the reader will go through."""

    files: tuple[Path, ...]
    total_bytes: int
    roles: dict[Path, str] = field(default_factory=dict)  # e.g. "members", "posts", "users"
    notes: tuple[str, ...] = ()  # files accepted but not used, and why


class ByteCounter:
    """Bytes read so far across all files, reported to a hook every ~1 MB."""

    def __init__(self, total: int, hook: Callable[[int, int], None] | None = None):
        self.total, self.done, self.hook = total, 0, hook
        self._next_report = 0

    def add(self, n: int) -> None:
        self.done += n
        if self.hook is not None and self.done >= self._next_report:
            self._next_report = self.done + CHUNK
            self.hook(min(self.done, self.total), self.total)


class _CountingRaw(io.RawIOBase):
    def __init__(self, raw: io.BufferedReader, counter: ByteCounter):
        self._raw, self._counter = raw, counter

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        if n:
            self._counter.add(n)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def open_counted(path: Path, counter: ByteCounter) -> io.BufferedReader:
    """The file opened for binary reading; every byte read is added to `counter`."""
    return io.BufferedReader(_CountingRaw(open(path, "rb"), counter), CHUNK)


def expand(paths: Iterable[Path], wanted: Callable[[Path], bool]) -> list[Path]:
    """Files given directly, plus the wanted files inside given directories (sorted)."""
    files: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and wanted(p)))
        elif path.is_file():
            files.append(path)
        else:
            raise ImportSetupError("no such file or directory", file=str(path))
    seen: set[Path] = set()
    unique = []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def check_utf8(path: Path) -> None:
    """Fail with file and line when the file is not valid UTF-8 (checked at C speed, in chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            final = not chunk
            try:
                decoder.decode(chunk, final)
            except UnicodeDecodeError as exc:
                line += chunk[: max(0, exc.start)].count(b"\n")
                raise ImportSetupError(
                    f"not valid UTF-8 (byte {chunk[exc.start:exc.start + 1]!r}); "
                    "save the file as UTF-8 (in Excel: 'CSV UTF-8')", file=path.name, line=line,
                ) from None
            if final:
                return
            line += chunk.count(b"\n")
