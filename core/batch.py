"""Batch processing: run one task over many files and get one table row per scan.

Inputs are ``(name, bytes)`` pairs or paths (files or folders). A zip is expanded into its members.
DICOM slices of one series (same SeriesInstanceUID) in one folder stay together as one scan;
radiographs (CR, DX, ...), multi-frame files and files without a slice position are one scan each. Bad inputs become rows with the
user-facing reason (status ``"rejected"``); nothing a user supplies stops the batch.

Command line::

    python -m core.batch FOLDER --task chest-xray --out results.csv [--store] [--subject sub-x]
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from core.types import QCReport, Result

log = logging.getLogger(__name__)

COLUMNS = ("file", "status", "prediction", "confidence", "top_probabilities", "qc_reasons", "qc_warnings",
           "time_s", "subject", "record_id")
TOP_K = 3
UNABLE = "Unable to determine"


@dataclass(frozen=True)
class BatchItem:
    """One scan to analyse: a display name and what :func:`core.validation.load_and_check` accepts
    (bytes, or a list of ``core.io.source.Source`` for a DICOM series)."""

    name: str
    payload: Any
    filename: str | None = None


def _is_dicom(data: bytes) -> bool:
    from core.io.detect import DICOM, sniff

    return sniff(data[:1024])[0] == DICOM


def _is_zip(data: bytes) -> bool:
    from core.io.detect import ZIP, sniff

    return sniff(data[:1024])[0] == ZIP


def _series_payload(files: Sequence[tuple[str, bytes]]) -> Any:
    from core.io.source import Source

    return [Source(name=PurePosixPath(n).name, size_bytes=len(d), _data=d) for n, d in files]


# Projection radiographs are single images even when several share a series (PA + lateral views).
PROJECTION_MODALITIES = frozenset({"CR", "DX", "MG", "RF", "XA", "IO", "PX"})


def _dicom_series_key(folder: str, name: str, data: bytes) -> tuple[str, ...]:
    """Which scan a DICOM file belongs to: its folder and SeriesInstanceUID for cross-sectional slices;
    a key of its own for radiographs, multi-frame files, files without a slice position, or unreadable headers
    (the loader then reports what is wrong with that file)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError, AttributeError):
        return (folder, "file", name)
    modality = str(ds.get("Modality", "") or "").upper()
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    uid = str(ds.get("SeriesInstanceUID", "") or "")
    if modality in PROJECTION_MODALITIES or frames > 1 or "ImagePositionPatient" not in ds or not uid:
        return (folder, "file", name)
    return (folder, "series", uid)


def _group(files: Sequence[tuple[str, bytes]], prefix: str = "") -> list[BatchItem]:
    """Files (names may hold folders) -> items: slices of one DICOM series in one folder together, zips
    expanded, everything else one item per file."""
    ordered: list[tuple[int, BatchItem]] = []  # (position of the first file, item): rows keep the input order
    series: dict[tuple[str, ...], list[tuple[str, bytes]]] = {}
    first_at: dict[tuple[str, ...], int] = {}
    for position, (name, data) in enumerate(files):
        shown = prefix + name
        if _is_dicom(data):
            key = _dicom_series_key(str(PurePosixPath(shown).parent), shown, data)
            series.setdefault(key, []).append((shown, data))
            first_at.setdefault(key, position)
        elif _is_zip(data):
            ordered.extend((position, item) for item in _expand_zip(shown, data))
        else:
            ordered.append((position, BatchItem(shown, data, PurePosixPath(name).name)))
    per_folder: dict[str, int] = {}
    for key, members in series.items():
        if len(members) == 1:
            name, data = members[0]
            ordered.append((first_at[key], BatchItem(name, data, PurePosixPath(name).name)))
            continue
        folder = key[0]
        per_folder[folder] = per_folder.get(folder, 0) + 1
        where = f"{folder}/" if folder != "." else ""
        label = f"{where} (series {per_folder[folder]}, {len(members)} DICOM files)".strip()
        ordered.append((first_at[key], BatchItem(label, _series_payload(sorted(members)), None)))
    return [item for _, item in sorted(ordered, key=lambda pi: pi[0])]


def _expand_zip(name: str, data: bytes) -> list[BatchItem]:
    """Members of a zip as items (grouped as :func:`_group` does). A damaged or encrypted archive stays a
    single item that :func:`core.validation.load_and_check` refuses with its own message."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = [i for i in archive.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
                     and not PurePosixPath(i.filename).name.startswith(".")]
            if not infos or any(i.flag_bits & 0x1 for i in infos):
                return [BatchItem(name, data, PurePosixPath(name).name)]
            members = [(i.filename, archive.read(i)) for i in infos]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return [BatchItem(name, data, PurePosixPath(name).name)]
    return _group(members, prefix=name + "/")


def collect(sources: Iterable[tuple[str, bytes] | str | Path]) -> list[BatchItem]:
    """Turn ``(name, bytes)`` pairs, files and folders into batch items (folders walked recursively, sorted)."""
    files: list[tuple[str, bytes]] = []
    for source in sources:
        if isinstance(source, (str, Path)):
            path = Path(source)
            if path.is_dir():
                for child in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                    files.append((child.relative_to(path).as_posix(), child.read_bytes()))
            else:
                files.append((path.name, path.read_bytes()))
        else:
            name, data = source
            files.append((str(name), bytes(data)))
    return _group(files)


def _top(result: Result) -> str:
    pairs = [(lbl, p) for lbl, p in zip(result.labels, result.probabilities) if p == p]  # NaN-free
    pairs.sort(key=lambda lp: -lp[1])
    return "; ".join(f"{lbl} {p:.3f}" for lbl, p in pairs[:TOP_K])


def _row(name: str, *, status: str, qc: QCReport, seconds: float, result: Result | None = None,
         reasons: Sequence[str] = (), subject: str | None = None, record_id: int | None = None) -> dict[str, Any]:
    prediction = None
    if result is not None:
        prediction = result.prediction if result.ok else (UNABLE if qc.accepted and result.probabilities else None)
    all_reasons = list(dict.fromkeys(list(qc.reasons) + list(reasons)))
    return {"file": name, "status": status, "prediction": prediction,
            "confidence": None if result is None or result.confidence is None else round(float(result.confidence), 4),
            "top_probabilities": _top(result) if result is not None else "",
            "qc_reasons": " | ".join(all_reasons), "qc_warnings": " | ".join(c.message for c in qc.warnings),
            "time_s": round(seconds, 3), "subject": subject, "record_id": record_id}


def _loads(item: BatchItem) -> list[tuple[str, Any, QCReport]]:
    """(name, scan or None, qc) per scan in an item; an item with several DICOM series gives one per series."""
    from core.validation import load_and_check

    scan, qc = load_and_check(item.payload, filename=item.filename)
    several = next((c for c in qc.failures if c.code == "multiple_series"), None)
    if several is None or not several.value:
        return [(item.name, scan, qc)]
    out = []
    for series_id, label, n_slices in several.value:
        s_scan, s_qc = load_and_check(item.payload, filename=item.filename, series=series_id)
        out.append((f"{item.name} [{label}, {n_slices} images]", s_scan, s_qc))
    return out


def run_batch(sources: Iterable[tuple[str, bytes] | str | Path], task_name: str, store: Any = None,
              subject: str | None = None, progress: Callable[[int, int, str], None] | None = None) -> pd.DataFrame:
    """Run ``task_name`` over every scan in ``sources``.

    Args:
        sources: ``(name, bytes)`` pairs, file paths or folder paths; zips are expanded.
        task_name: a registry name (:func:`core.tasks.list_tasks`), e.g. ``"chest-xray"``.
        store: a :class:`core.store.Store`; when given, every analysed scan (accepted or refused by the
            task) is recorded with its QC report. Files that could not be loaded are not recorded.
        subject: pseudonym for the records; None uses each scan's own pseudonym (DICOM), and a scan
            without one is not recorded (the row says so).
        progress: called as ``progress(done, total, name)`` after each scan.
    Returns:
        One row per scan with the columns of :data:`COLUMNS`; ``status`` is ``"ok"`` (a prediction),
        ``"rejected"`` (refused by a gate, below the confidence threshold, or unreadable; the reason is in
        ``qc_reasons``) or ``"error"`` (an internal failure, logged with its traceback).
    """
    from core.tasks import get_task

    task = get_task(task_name)  # KeyError lists the names: a caller's mistake, raised before any work
    items = collect(sources)
    rows: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        t0 = time.perf_counter()
        try:
            loads = _loads(item)
        except Exception as exc:  # a bug in loading, not the user's file: logged, row kept, batch goes on
            log.exception("batch: loading %s failed", item.name)
            rows.append(_row(item.name, status="error", qc=QCReport(), seconds=time.perf_counter() - t0,
                             reasons=(f"Internal error while loading ({type(exc).__name__}); see the log.",)))
            loads = []
        for name, scan, qc in loads:
            if scan is None or not qc.accepted:
                rows.append(_row(name, status="rejected", qc=qc, seconds=time.perf_counter() - t0))
                t0 = time.perf_counter()
                continue
            try:
                result = task(scan)
            except Exception as exc:  # tasks never raise on bad input, so this is a bug: logged, row kept
                log.exception("batch: task %s failed on %s", task_name, name)
                rows.append(_row(name, status="error", qc=qc, seconds=time.perf_counter() - t0,
                                 reasons=(f"Internal error in the {task_name} task ({type(exc).__name__}); see the log.",)))
                t0 = time.perf_counter()
                continue
            who = subject or scan.subject_pseudonym
            record_id, extra = None, ()
            if store is not None:
                if who:
                    record_id = store.add_result(result, subject=who, source=scan.source, modality=scan.modality.value)
                else:
                    extra = ("Not recorded: the file carries no patient identifier; give a pseudonymous subject ID.",)
            rows.append(_row(name, status="ok" if result.ok else "rejected", qc=result.qc, result=result,
                             seconds=time.perf_counter() - t0, reasons=tuple(result.reasons) + extra,
                             subject=who, record_id=record_id))
            t0 = time.perf_counter()
        if progress is not None:
            progress(index + 1, len(items), item.name)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: analyse a folder (or files) and write a CSV; prints a one-line summary."""
    from core.config import get_settings
    from core.tasks import list_tasks

    parser = argparse.ArgumentParser(prog="python -m core.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="folders, files or zips to analyse")
    parser.add_argument("--task", required=True, choices=list_tasks(), help="task to run on every scan")
    parser.add_argument("--out", type=Path, default=Path("results.csv"), help="CSV file to write")
    parser.add_argument("--store", action="store_true", help="record results in the longitudinal store "
                        "(RADLENS_STORE_URL); scans need a DICOM identifier or --subject")
    parser.add_argument("--subject", default=None, help="pseudonymous subject ID for every record (never a real name)")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.inputs if not p.exists()]
    if missing:
        parser.error("not found: " + ", ".join(missing))
    store = None
    if args.store:
        from core.store import get_store

        store = get_store()

    def _progress(done: int, total: int, name: str) -> None:
        print(f"[{done}/{total}] {name}", file=sys.stderr)

    table = run_batch(args.inputs, args.task, store=store, subject=args.subject, progress=_progress)
    table.to_csv(args.out, index=False)
    counts = table["status"].value_counts().to_dict()
    print(f"{len(table)} scan(s): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f" -> {args.out}"
          + (f" (recorded in {get_settings().store_url})" if store is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
