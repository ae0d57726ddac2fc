"""The rules for a folder headstart writes into (a run, a comparison, a pretrained backbone, a few-shot run):
it never writes over what it did not write, never lets two processes write one folder, and never loses a
finished result to a mistake.

- A folder is usable when it is new, empty, or carries headstart's marker (`headstart-run.json`, which
  also lists the files headstart wrote there). A run folder written before the marker existed (it has
  `config.json`, `metrics.json` and `model/headstart.json`) counts as carrying it.
- `--overwrite` replaces only such a folder's own files; anything else in the folder stays. It refuses a
  folder holding other files, whatever it is (`.`, `~`, a project folder), and names what is in the way.
- The folder is locked for as long as a process writes into it (`filelock`, an OS lock: a process that is
  killed, even with SIGKILL, releases it, so a stale lock never blocks the next run). A second writer gets
  an error naming the process that holds it.
- Overwriting waits until the inputs have been read (`RunFolder.begin`): a typo in a data file must not cost
  the finished run it would have replaced.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from headstart.errors import HeadstartError
from headstart.training.checkpoint import CHECKPOINT, REFIT_CHECKPOINT

__all__ = ["MARKER", "LOCK", "RunFolder", "claim", "is_run_folder", "record_files", "LEGACY_CHECKPOINT", "CHECKPOINT"]

MARKER = "headstart-run.json"
LOCK = ".headstart.lock"
_PID = ".headstart.pid"
LEGACY_CHECKPOINT = "checkpoint.pt"  # a pickle, written before 2026-12-03: never loaded
_LEGACY_RUN = ("config.json", "metrics.json", "model/headstart.json")
# what a run folder of every kind may hold that headstart wrote, for folders without a manifest (legacy)
_KNOWN = ("config.json", "metrics.json", "history.json", "predictions.npz", "samples.json", "report.md",
          "report.html", "model", "split", "candidates", "ensemble", "leaderboard.json", "leaderboard.csv",
          "pretrain.json",
          CHECKPOINT, CHECKPOINT + ".tmp", REFIT_CHECKPOINT, REFIT_CHECKPOINT + ".tmp", LEGACY_CHECKPOINT,
          LEGACY_CHECKPOINT + ".tmp")
_OWN = (MARKER, LOCK, _PID, "train.log")  # train.log: `headstart compare` logs each candidate's process there
_NOUNS = {"run": "run", "compare": "comparison", "backbone": "pretrained backbone", "few-shot": "few-shot run"}
_FINISHED = ("metrics.json", "leaderboard.json", "pretrain.json")  # written last by each kind of folder


def is_run_folder(path: str | Path) -> bool:
    """Whether `path` carries headstart's marker (or is a run folder from before the marker)."""
    path = Path(path)
    return (path / MARKER).is_file() or all((path / name).exists() for name in _LEGACY_RUN)


@dataclass
class RunFolder:
    """A folder claimed for writing. `wrote(name)` records a file or folder headstart put there."""

    path: Path
    kind: str
    overwrite: bool = False
    files: list[str] = field(default_factory=list)
    _begun: bool = False
    _before: set[str] = field(default_factory=set)

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def finished(self) -> bool:
        return any((self.path / name).exists() for name in _FINISHED)

    def begin(self) -> None:
        """Called once the inputs are read, right before anything is written: with overwrite, remove the
        folder's earlier headstart files now (an earlier checkpoint included)."""
        if self._begun:
            return
        self._begun = True
        if self.overwrite:
            for name in sorted(set(self._previous_files()) | {CHECKPOINT, REFIT_CHECKPOINT, LEGACY_CHECKPOINT}):
                target = self.path / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
            self.files = []
        self._before = {p.name for p in self.path.iterdir()} - set(self.files)
        self._write_marker()

    def finish(self) -> None:
        """The run is complete: record every entry headstart added since `begin`, drop the checkpoint."""
        self.checkpoint.unlink(missing_ok=True)
        (self.path / REFIT_CHECKPOINT).unlink(missing_ok=True)
        self.wrote(*sorted({p.name for p in self.path.iterdir()} - self._before - set(_OWN)
                           - {MARKER + ".tmp"}))

    def wrote(self, *names: str) -> None:
        """Record files or folders (relative to the run folder) written by headstart."""
        for name in names:
            if name not in self.files:
                self.files.append(name)
        self._write_marker()

    def _previous_files(self) -> list[str]:
        marker = self.path / MARKER
        if marker.is_file():
            try:
                return [str(n) for n in json.loads(marker.read_text()).get("files", []) if _inside(str(n))]
            except (json.JSONDecodeError, AttributeError):
                pass
        return [name for name in _KNOWN if (self.path / name).exists()] + \
            [p.name for p in self.path.glob("*.png")] + [p.name for p in self.path.glob("eval-*")]

    def _write_marker(self) -> None:
        data = {"headstart": "run folder", "kind": self.kind, "files": self.files}
        tmp = self.path / (MARKER + ".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.path / MARKER)


def record_files(out: str | Path, *names: str) -> None:
    """Add entries to a finished folder's manifest (what `headstart auto` writes beside its final run), under
    the folder's lock."""
    out = Path(out)
    lock = FileLock(str(out / LOCK))
    try:
        lock.acquire(timeout=10)
    except Timeout:
        raise HeadstartError(f"{out} is locked by another process.", expected="no other writer",
                             found=f"the lock {out / LOCK} is held", fix="wait for it to finish") from None
    try:
        folder = RunFolder(out, _kind_of(out) or "run", files=_manifest(out))
        folder.wrote(*names)
    finally:
        lock.release()


def _inside(name: str) -> bool:
    """A manifest entry that stays inside its folder (a planted marker cannot make overwrite delete
    elsewhere)."""
    parts = Path(name).parts
    return bool(parts) and not Path(name).is_absolute() and ".." not in parts


def _contents(path: Path) -> list[str]:
    return sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir() if p.name not in _OWN)


def _kind_of(path: Path) -> str | None:
    try:
        return json.loads((path / MARKER).read_text()).get("kind")
    except (OSError, json.JSONDecodeError, AttributeError):
        return None


@contextmanager
def claim(out: str | Path, *, kind: str = "run", resume: bool = False, overwrite: bool = False,
          resumable: bool = True) -> Iterator[RunFolder]:
    """Lock `out` for writing and check that headstart may write there; yields the RunFolder.

    Args:
        kind: what the folder holds ("run", "compare", "backbone", "few-shot"); a folder of another kind
            is refused.
        resume: the caller continues an interrupted run (its checkpoint must be there).
        overwrite: the caller may replace an earlier headstart folder of this kind (at `RunFolder.begin`).
        resumable: whether this kind keeps a checkpoint (then "interrupted" is a state of its own).
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise HeadstartError(f"{out} is a file, not a folder.", expected="a new or empty folder for the output",
                             found="a file", fix="choose another --out")
    created = not out.exists()
    if not created:  # refuse a folder that is not ours before even placing the lock file in it
        _refuse_foreign(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HeadstartError(f"cannot create {out}: {exc.strerror or exc}.", expected="a writable location",
                             found=type(exc).__name__, fix="choose a writable --out folder") from None
    try:
        lock = _lock(out)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    try:
        folder = _check(out, kind=kind, resume=resume, overwrite=overwrite, resumable=resumable)
        yield folder
    except BaseException:
        if created and not any(p.name not in _OWN for p in out.iterdir()):
            shutil.rmtree(out, ignore_errors=True)  # nothing of the run was written: leave no empty folder
        raise
    finally:  # the lock file itself stays: deleting a lock file others may have opened is a race
        (out / _PID).unlink(missing_ok=True)
        lock.release()


def _lock(out: Path) -> FileLock:
    lock = FileLock(str(out / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = (out / _PID).read_text().strip() if (out / _PID).exists() else "another process"
        raise HeadstartError(f"{out} is in use: process {holder} is writing into it.",
                             expected="one process per output folder", found=f"a lock held by process {holder}",
                             fix="wait for it to finish, stop it, or choose another --out") from None
    except OSError as exc:
        raise HeadstartError(f"cannot lock {out}: {exc.strerror or exc}.", expected="a writable folder",
                             found=type(exc).__name__, fix="choose a writable --out folder") from None
    (out / _PID).write_text(str(os.getpid()))
    return lock


def _refuse_foreign(out: Path) -> None:
    """A folder with entries, none of them showing it is headstart's: refused, whatever the options."""
    contents = _contents(out)
    ours = is_run_folder(out) or (out / CHECKPOINT).exists() or (out / LEGACY_CHECKPOINT).exists()
    if contents and not ours:
        shown = ", ".join(contents[:5]) + (f" and {len(contents) - 5} more" if len(contents) > 5 else "")
        raise HeadstartError(f"{out} holds files headstart did not write: {shown}; nothing was changed.",
                             expected="a new or empty folder, or an earlier headstart run",
                             found=f"{len(contents)} other entr{'y' if len(contents) == 1 else 'ies'}",
                             fix="choose a new folder for --out (--overwrite only ever replaces a headstart run)")


def _check(out: Path, *, kind: str, resume: bool, overwrite: bool, resumable: bool) -> RunFolder:
    folder = RunFolder(out, kind, overwrite=overwrite)
    if not _contents(out) and not resume:
        return folder
    _refuse_foreign(out)
    legacy = (out / LEGACY_CHECKPOINT).exists()
    found = _kind_of(out) or "run"
    if found != kind:
        raise HeadstartError(f"{out} holds a headstart {found} folder, not a {kind} one; it was left untouched.",
                             expected=f"a new or empty folder, or an earlier {kind}", found=f"a {found} folder",
                             fix="choose another --out")
    interrupted = resumable and (out / CHECKPOINT).exists()
    if resume:
        if legacy and not interrupted:
            raise HeadstartError(f"{out}/{LEGACY_CHECKPOINT} is in the old pickle format, which headstart no "
                                 "longer loads (loading a pickle can run code).",
                                 expected=f"{out}/{CHECKPOINT}", found=LEGACY_CHECKPOINT,
                                 fix="start the run again: the same command with --overwrite instead of --resume")
        if not interrupted:
            raise HeadstartError(f"nothing to resume in {out}.", expected=f"{out}/{CHECKPOINT} from an interrupted run",
                                 found="a finished run" if folder.finished else "no checkpoint",
                                 fix="drop --resume to start a new run")
        folder.files = _manifest(out)
        return folder
    interrupted = interrupted or (resumable and legacy)
    if not overwrite and (folder.finished or interrupted):
        noun = _NOUNS.get(kind, kind)
        what = f"a finished {noun}" if folder.finished else f"an interrupted {noun}"
        raise HeadstartError(f"{out} already holds {what}; it was left untouched.",
                             expected="a new or empty --out folder", found=what,
                             fix=("pass --resume to continue it, " if interrupted else "")
                             + "choose another --out, or pass --overwrite to replace it")
    folder.files = _manifest(out)
    return folder


def _manifest(out: Path) -> list[str]:
    try:
        files = json.loads((out / MARKER).read_text()).get("files", [])
        return [str(n) for n in files if _inside(str(n))]
    except (OSError, json.JSONDecodeError, AttributeError):
        return []
