"""Expand the paths a user gives into the supported files to load."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from errors import UnreadableDocument
from ingest.loaders._common import SUPPORTED_LIST, SUPPORTED_SUFFIXES, os_error, unsupported

# What a folder says about itself, not a statement: skipped when a directory is walked.
_FOLDER_NOTES = frozenset({"readme", "license", "licence", "changelog"})


@dataclass(frozen=True)
class Discovery:
    """What :func:`discover` found: files to load and why others were left out."""

    files: list[Path]
    failures: list[UnreadableDocument]
    skipped: list[tuple[Path, str]]


def discover(paths: Iterable[Path]) -> Discovery:
    """Expand ``paths`` into the supported files to load, never raising for one bad path.

    Directories are searched recursively, skipping hidden files and directories
    (names starting with ".") and a folder's own notes (README, LICENSE,
    CHANGELOG: the shared archive's README.md had been ingested as a statement).
    A path given explicitly is taken as meant: a hidden file or a README is
    accepted, but a missing file or an unsupported suffix is a failure rather
    than a silent skip. Every skip is reported with its reason.
    """
    found: set[Path] = set()
    failures: list[UnreadableDocument] = []
    skipped: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        try:
            info = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            # Also what a dangling symlink gives, which is the same problem.
            failures.append(UnreadableDocument(path, "does not exist", hint="Check the path for typos."))
            continue
        except OSError as exc:
            failures.append(os_error(path, exc))
            continue
        if stat.S_ISDIR(info.st_mode):
            _walk(path, found, failures, skipped)
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            failures.append(unsupported(str(path), path.suffix))
            continue
        found.add(path.resolve())
    return Discovery(files=sorted(found), failures=failures, skipped=sorted(skipped))


def _walk(
    root: Path,
    found: set[Path],
    failures: list[UnreadableDocument],
    skipped: list[tuple[Path, str]],
) -> None:
    def on_error(exc: OSError) -> None:
        failures.append(os_error(Path(exc.filename or root), exc))

    # followlinks=False: a symlinked directory could loop or escape the tree.
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        base = Path(dirpath)
        # Pruning in place stops os.walk from descending into hidden directories.
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        for name in sorted(filenames):
            path = base / name
            suffix = path.suffix.lower()
            if name.startswith((".", "~$")):
                # "~$name.docx" is the lock file Word leaves beside an open document.
                skipped.append((path, "hidden file" if name.startswith(".") else "Word lock file"))
                continue
            if path.stem.lower() in _FOLDER_NOTES:
                skipped.append((path, f"the folder's {path.stem} (give its path to ingest it)"))
                continue
            if suffix not in SUPPORTED_SUFFIXES:
                kind = f"'{suffix}'" if suffix else "no suffix"
                skipped.append((path, f"unsupported file type ({kind}; supported: {SUPPORTED_LIST})"))
                continue
            try:
                is_file = stat.S_ISREG(path.stat().st_mode)
            except OSError as exc:
                # Broken links and unsearchable directories: report, keep walking.
                failures.append(os_error(path, exc))
                continue
            if is_file:
                found.add(path.resolve())
            else:
                skipped.append((path, "not a regular file"))
