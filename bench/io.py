"""Load-time benchmark of core.io: a synthetic 256^3 NIfTI (.nii.gz) and the VinDr JPEG 2000 DICOM.

Usage: ``nice -n 10 .venv/bin/python bench/io.py [--repeats 3]``. Prints one line per case with the
median wall time of ``load_scan`` (and of ``check``, which loads and runs the content checks).
The synthetic volume is written to a temporary directory that is deleted afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.config import get_settings  # noqa: E402
from core.io import load_scan  # noqa: E402
from core.validation import check  # noqa: E402

VINDR = "spine_xray/00a4089038fb4f7b926624bd31b3ca88.dicom"


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _report(label: str, path: Path, repeats: int) -> None:
    size_mb = path.stat().st_size / 1024**2
    t_path = _median_time(lambda: load_scan(path), repeats)
    data = path.read_bytes()
    t_bytes = _median_time(lambda: load_scan(data, filename=path.name), repeats)
    t_check = _median_time(lambda: check(path), repeats)
    scan = load_scan(path)
    print(f"{label:<38} {size_mb:7.1f} MB  load_scan(path) {t_path:6.2f} s  load_scan(bytes) {t_bytes:6.2f} s  "
          f"check() {t_check:6.2f} s  shape {scan.array.shape}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import nibabel as nib

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in (np.int16, np.float32):
            data = (rng.random((256, 256, 256)) * 1000).astype(dtype)
            path = Path(tmp) / f"random_256_{np.dtype(dtype).name}.nii.gz"
            nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 1.0, 1.0])), path)
            _report(f"NIfTI 256^3 random {np.dtype(dtype).name} (.nii.gz)", path, args.repeats)
    vindr = get_settings().samples_dir / VINDR
    if vindr.is_file():
        _report("VinDr spine X-ray (JPEG 2000 DICOM)", vindr, args.repeats)
    else:
        print(f"VinDr sample not found at {vindr}; skipped")


if __name__ == "__main__":
    main()
