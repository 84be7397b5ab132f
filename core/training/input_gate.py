"""Input gate: image kind (MRI, X-ray, CT, photo, other) and body part (brain, knee, spine, chest, other).

Trains one small timm CNN with 10 outputs (5 kind logits, 5 body-part logits) on images from
:mod:`core.gates.gate_data`: phantoms (core.synth head volumes and brain slices, chest and
spine radiographs; knee MRI/radiographs, cervical-spine films and CT slices from core.gates),
a few real images from registry packages (nilearn MNI152 template, pydicom-data test files),
scikit-image photographs, rendered text screenshots, noise, near-blank images and drawings. Strong
augmentation (random resized crops, rotations, flips, MR contrast remapping, gamma,
contrast, blur, noise, burned-in text, letterboxing) is what lets a phantom-trained gate
route real PNG/JPEG scans. Validation and OOD calibration use the val seeds; the test
seeds are left for ``python -m core.gates_eval --generate``.

No ``--data`` option: real images of every kind and body part in one labelled set are not
part of this project; evaluate on real files with ``python -m core.gates_eval FOLDER``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from core.gates.expectations import BODY_PARTS, KINDS
from core.gates.gate_data import SOURCES, generate
from core.gates.learned import LABELS, MODEL_ID
from core.gates.negatives import TRAIN_PHOTOS
from core.gates.registry_images import PYDICOM_FILES
from core.training.common import (DEMO_NOTICE, LICENCE, WEIGHTS_DIR, cached_arrays, format_command, ood_calibration,
                                  round_floats, seed_everything, write_model_folder)

TASK = "input-gate"
#: Training images per source (validation uses a fifth of each, from disjoint seeds).
DEFAULT_COUNTS: dict[str, int] = {
    "mri_brain_slice": 320, "mri_brain_head": 240, "mri_head_levels": 240, "mri_knee": 240, "xray_chest": 320,
    "xray_spine": 320, "xray_knee": 100, "ct_brain": 120, "ct_chest": 100, "photo": 300, "text": 120, "noise": 100,
    "blank": 40, "drawing": 120, "xray_cspine": 200, "reg_xray_chest": 160, "reg_ct_brain": 60, "mni_brain": 200,
}
#: Relative sampling weight per source (1 when absent). Sources are otherwise drawn evenly; head
#: slices at the orbit, skull-base and jaw levels are the hardest brain views to tell from a knee, and
#: lateral cervical-spine films (skull base and jaw in view) the hardest spine views to tell from a head.
SOURCE_WEIGHTS: dict[str, float] = {"mri_head_levels": 2.0, "xray_cspine": 1.5}
# Not used: the registry's real MR/CT/X-ray images of *other* body parts (reg_mri_other, reg_ct_other,
# reg_xray_other). With phantoms for every named body part, they taught the gate the shortcut
# "real-looking texture -> other", which sent real brain and spine scans to "other". The one
# pydicom-data ultrasound image (reg_ultrasound; sampled as often as a whole phantom family)
# did the same to a real sagittal T1 brain JPG, so it is left out too.
_BURNED_TEXT = ("L", "R", "PA", "AP", "ERECT", "SUPINE", "LAT", "T1", "T2 FLAIR", "SE 3 IM 12", "2016-08-30",
                "W 400 L 40", "PORTABLE", "HFS", "A", "P", "H", "F", "3T", "SAG", "COR", "AX")


def known_pairs() -> dict[str, list[str]]:
    """Kind -> body parts the trained gate saw together (written to metadata; routing masks the rest)."""
    pairs: dict[str, set[str]] = {k: set() for k in KINDS}
    for name in DEFAULT_COUNTS:
        pairs[SOURCES[name].kind].add(SOURCES[name].body_part)
    return {k: sorted(v, key=BODY_PARTS.index) for k, v in pairs.items() if v}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m core.train input-gate``."""
    parser.add_argument("--seed", type=int, default=0, help="base seed (phantoms, augmentation, initialisation)")
    parser.add_argument("--architecture", default="mobilenetv3_small_050", help="timm model name")
    parser.add_argument("--image-size", type=int, default=96, help="network input side, pixels")
    parser.add_argument("--base-size", type=int, default=112, help="side of the generated images before cropping")
    parser.add_argument("--steps", type=int, default=600, help="optimisation steps")
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--max-minutes", type=float, default=7.5,
                        help="stop training early after this many minutes (data generation not counted)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every per-source image count")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1 is fastest on a shared 2-core machine)")
    parser.add_argument("--init", type=Path, default=None,
                        help="start from this model.safetensors (fine-tune) instead of random weights")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / MODEL_ID, help="model folder to write")


def _bank(split: str, args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images (N, 3, S, S) uint8, kind (N,), part (N,), medical (N,) for one split."""
    import importlib

    from core.gates.gate_data import SOURCE_MODULES

    xs, kinds, parts, medical = [], [], [], []
    for name, count in DEFAULT_COUNTS.items():
        n = max(4, int(round(count * args.scale / (5 if split == "val" else 1))))
        src = SOURCES[name]

        def make(name: str = name, n: int = n) -> tuple[np.ndarray, np.ndarray]:
            imgs = generate(name, split, n, args.base_size, args.seed)
            arr = (np.stack(imgs).transpose(0, 3, 1, 2) * 255.0 + 0.5).astype(np.uint8)
            return arr, np.zeros(len(arr), np.int64)

        files = [Path(importlib.import_module(m).__file__) for m in SOURCE_MODULES[name]]
        x, _ = cached_arrays(f"input-gate-{name}-{split}", {"n": n, "size": args.base_size, "seed": args.seed},
                             make, source_files=files)
        xs.append(x)
        kinds.append(np.full(len(x), KINDS.index(src.kind)))
        parts.append(np.full(len(x), BODY_PARTS.index(src.body_part)))
        medical.append(np.full(len(x), src.medical))
    return np.concatenate(xs), np.concatenate(kinds), np.concatenate(parts), np.concatenate(medical)


def _text_stamps(size: int, seed: int) -> torch.Tensor:
    """Small binary masks of burned-in annotation text (markers, dates, sequence names)."""
    from PIL import Image, ImageDraw, ImageFont

    from core.gates.negatives import _font_path

    rng = np.random.default_rng(seed)
    font_file = _font_path()
    stamps = []
    for text in _BURNED_TEXT:
        im = Image.new("L", (size, size // 3), 0)
        px = int(rng.integers(size // 12, size // 6))
        font = ImageFont.truetype(str(font_file), px) if font_file else ImageFont.load_default()
        ImageDraw.Draw(im).text((2, 2), text, fill=255, font=font)
        stamps.append(np.asarray(im, np.float32) / 255.0)
    return torch.from_numpy(np.stack(stamps))


def augment(x: torch.Tensor, medical: torch.Tensor, out_size: int, stamps: torch.Tensor,
            g: torch.Generator, mr_like: torch.Tensor | None = None) -> torch.Tensor:
    """Strong label-preserving augmentation of a uint8 batch -> float (N, 3, out, out) in 0..1.

    Geometry: random zoom (0.7-1.4, zoom-out letterboxes with black), aspect, rotation (+-15 deg;
    any angle for non-medical images), translation, left-right flips (and up-down for
    non-medical). Intensity: MR-style contrast remapping (air stays dark), gamma, contrast,
    brightness, blur, Gaussian noise, burned-in text on scans, colour casts, JPEG compression
    (quality 15-95 on 30 %); then the same
    per-image 1st..99th percentile normalisation the gate applies at inference.
    """
    n = x.shape[0]
    x = x.float() / 255.0
    u = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    med = medical.float()
    # --- geometry (one affine grid per image) ---
    zoom = torch.exp((u(n) - 0.45) * 0.7)  # >1 zooms out
    # Tight crops on a third of the scans (real JPG exports are often cropped to the skull or
    # film edge), so "anatomy fills the frame" is no cue for one body part (the knee phantom does).
    tight = (u(n) < 0.33) & medical
    zoom = torch.where(tight, 0.5 + 0.3 * u(n), zoom)
    aspect = torch.exp((u(n) - 0.5) * 0.6)
    angle = (u(n) - 0.5) * torch.where(medical, torch.tensor(0.52), torch.tensor(math.pi * 2))
    flip_lr = torch.where(u(n) < 0.5, -1.0, 1.0)
    flip_ud = torch.where((u(n) < 0.3) & ~medical, -1.0, 1.0)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = cos * zoom * aspect * flip_lr
    theta[:, 0, 1] = -sin * zoom
    theta[:, 1, 0] = sin * zoom * aspect * flip_lr
    theta[:, 1, 1] = cos * zoom / aspect * flip_ud
    theta[:, :, 2] = (u(n, 2) - 0.5) * 0.3
    grid = F.affine_grid(theta, (n, 3, out_size, out_size), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # --- MR-style contrast remap on half the MR-like scans: piecewise-linear LUT with f(0) = 0 ---
    remap = (u(n) < 0.5) & (medical if mr_like is None else mr_like)
    if remap.any():
        knots_y = torch.cat([torch.zeros(n, 1), u(n, 4) * 0.9 + 0.1], dim=1)  # 5 knots at 0, .25, .5, .75, 1
        gray = x.mean(dim=1, keepdim=True).clamp(0, 1) * 4.0
        i0 = gray.floor().clamp(0, 3).long()
        frac = gray - i0.float()
        ky = knots_y.view(n, 5, 1, 1)
        lut_lo = torch.gather(ky.expand(n, 5, out_size, out_size), 1, i0)
        lut_hi = torch.gather(ky.expand(n, 5, out_size, out_size), 1, (i0 + 1).clamp(max=4))
        mapped = (lut_lo + (lut_hi - lut_lo) * frac).expand(-1, 3, -1, -1)
        x = torch.where(remap.view(n, 1, 1, 1), mapped, x)
    # --- smooth multiplicative bias field on MR-like scans (coil shading of real MR exports) ---
    mr = medical if mr_like is None else mr_like
    bias_on = (u(n) < 0.4) & mr
    if bias_on.any():
        field = torch.exp(F.interpolate(torch.randn(n, 1, 4, 4, generator=g) * 0.25, size=(out_size, out_size),
                                        mode="bicubic", align_corners=False))
        x = torch.where(bias_on.view(n, 1, 1, 1), x * field, x)
    # --- fine tissue texture on scans (phantoms are piecewise smooth; real tissue is not, and
    # texture alone must not mean "photograph") ---
    tex_on = (u(n) < 0.5) & medical
    if tex_on.any():
        tex = F.avg_pool2d(torch.randn(n, 1, out_size, out_size, generator=g), 3, stride=1, padding=1)
        x = torch.where(tex_on.view(n, 1, 1, 1), x * (1 + tex * (0.15 + 0.35 * u(n, 1, 1, 1))), x)
    # --- histogram equalisation on some scans (8-bit exports are often equalised or windowed hard),
    # so the intensity histogram is no cue ---
    eq_on = (u(n) < 0.2) & medical
    for i in torch.nonzero(eq_on).flatten().tolist():
        gray = x[i].mean(dim=0).flatten()
        ranks = torch.empty_like(gray)
        ranks[torch.argsort(gray)] = torch.linspace(0, 1, gray.numel())
        ranks = torch.where(gray <= 0.08, gray, ranks)  # background air stays dark
        x[i] = ranks.view(1, out_size, out_size).expand(3, -1, -1).clone()
    # --- gamma, contrast, brightness ---
    gamma = torch.exp((u(n, 1, 1, 1) - 0.5) * 1.4)
    x = x.clamp(0, 1) ** gamma
    x = (x - 0.5) * (0.6 + 0.8 * u(n, 1, 1, 1)) + 0.5 + (u(n, 1, 1, 1) - 0.5) * 0.3
    # --- colour cast on a few scans (JPEG exports with a tint), none on most ---
    tint = torch.where((u(n, 1, 1, 1) < 0.15) & medical.view(n, 1, 1, 1), 1 + (u(n, 3, 1, 1) - 0.5) * 0.15,
                       torch.ones(n, 3, 1, 1))
    x = x * tint
    # --- blur ---
    sigma = torch.where(u(n) < 0.35, 0.4 + 1.2 * u(n), torch.zeros(n))
    if (sigma > 0).any():
        r = torch.arange(-3, 4).float()
        k = torch.exp(-(r[None, :] ** 2) / (2 * sigma.clamp(min=1e-3)[:, None] ** 2))
        k = torch.where(sigma[:, None] > 0, k, (r[None, :] == 0).float())
        k = k / k.sum(dim=1, keepdim=True)
        xb = x.reshape(1, n * 3, out_size, out_size)
        kh = k.repeat_interleave(3, dim=0).view(n * 3, 1, 1, 7)
        xb = F.conv2d(F.pad(xb, (3, 3, 0, 0), mode="replicate"), kh, groups=n * 3)
        xb = F.conv2d(F.pad(xb, (0, 0, 3, 3), mode="replicate"), kh.transpose(2, 3), groups=n * 3)
        x = xb.view(n, 3, out_size, out_size)
    # --- burned-in text on scans ---
    stamp_on = (u(n) < 0.3) & medical
    for i in torch.nonzero(stamp_on).flatten().tolist():
        s = stamps[int(torch.randint(len(stamps), (1,), generator=g))]
        sh, sw = s.shape
        r0 = int(torch.randint(0, out_size - sh + 1, (1,), generator=g))
        c0 = int(torch.randint(0, max(1, out_size - sw + 1), (1,), generator=g))
        patch = s[:, : out_size - c0]
        x[i, :, r0:r0 + sh, c0:c0 + patch.shape[1]] = torch.maximum(x[i, :, r0:r0 + sh, c0:c0 + patch.shape[1]],
                                                                      patch * float(0.6 + 0.4 * u(1)))
    # --- loss of fine detail (downsample and back up) so the gate leans on shape, not phantom texture ---
    coarse = u(n) < 0.4
    if coarse.any():
        low = int(24 + 40 * float(u(1)))
        xc = F.interpolate(F.interpolate(x, size=(low, low), mode="area"), size=(out_size, out_size),
                           mode="bilinear", align_corners=False)
        x = torch.where(coarse.view(n, 1, 1, 1), xc, x)
    # --- noise ---
    x = x + torch.randn(x.shape, generator=g) * (u(n, 1, 1, 1) < 0.5).float() * 0.05 * u(n, 1, 1, 1)
    # --- JPEG compression (most real PNG/JPG uploads went through it, often more than once) ---
    jpeg_on = u(n) < 0.3
    qualities = (15 + 80 * u(n)).int()
    for i in torch.nonzero(jpeg_on).flatten().tolist():
        x[i] = _jpeg_round_trip(x[i], int(qualities[i]), gray=bool(medical[i]))
    return normalise_batch(x)


def _jpeg_round_trip(img: torch.Tensor, quality: int, gray: bool) -> torch.Tensor:
    """Encode one (3, H, W) 0..1 image as JPEG at ``quality`` and decode it (blocking and ringing)."""
    import io

    from PIL import Image

    arr = (img.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    pil = Image.fromarray(arr[:, :, 0] if gray else arr, mode="L" if gray else "RGB")
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), np.float32) / 255.0
    out = torch.from_numpy(back).permute(2, 0, 1)
    if gray:  # keep a scan grayscale (the encoder works on the first channel only)
        out = out.mean(dim=0, keepdim=True).expand(3, -1, -1)
    return out.contiguous()


def normalise_batch(x: torch.Tensor) -> torch.Tensor:
    """Per-image 1st..99th percentile -> 0..1 (as :func:`core.gates.learned.to_gate_input`)."""
    flat = x.reshape(x.shape[0], -1)
    q = torch.quantile(flat, torch.tensor([0.01, 0.99]), dim=1)
    lo, hi = q[0].view(-1, 1, 1, 1), q[1].view(-1, 1, 1, 1)
    return ((x - lo) / (hi - lo).clamp(min=1e-6)).clamp(0, 1)


def _center(x: np.ndarray, out_size: int) -> torch.Tensor:
    """Validation view: resize the whole image (no augmentation) and normalise."""
    t = torch.from_numpy(x).float() / 255.0
    t = F.interpolate(t, size=(out_size, out_size), mode="bilinear", antialias=True, align_corners=False)
    return normalise_batch(t)


def _logits(net: torch.nn.Module, x: torch.Tensor, batch: int = 128) -> np.ndarray:
    net.eval()
    with torch.inference_mode():
        return torch.cat([net(x[i:i + batch]) for i in range(0, len(x), batch)]).numpy()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Generate the data, train, calibrate the OOD threshold and write ``weights/input-gate``."""
    import timm

    torch.set_num_threads(max(1, int(args.threads)))
    seed_everything(args.seed)
    t0 = time.perf_counter()
    xtr, ktr, ptr, mtr = _bank("train", args)
    xva, kva, pva, mva = _bank("val", args)
    t_data = time.perf_counter() - t0
    n_kind = len(KINDS)
    net = timm.create_model(args.architecture, pretrained=False, num_classes=len(LABELS), in_chans=3)
    if args.init is not None:
        from safetensors.torch import load_file

        net.load_state_dict({k: v.float() if v.is_floating_point() else v
                             for k, v in load_file(str(args.init)).items()})
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    g = torch.Generator().manual_seed(args.seed)
    stamps = _text_stamps(args.image_size, args.seed)
    # Sample sources evenly (each source's images equally likely in total, times SOURCE_WEIGHTS),
    # then images within.
    source_ids = np.concatenate([np.full(max(4, int(round(c * args.scale))), i)
                                 for i, c in enumerate(DEFAULT_COUNTS.values())])
    weights = 1.0 / np.bincount(source_ids)[source_ids]
    weights = weights * np.array([SOURCE_WEIGHTS.get(name, 1.0) for name in DEFAULT_COUNTS])[source_ids]
    weights_t = torch.from_numpy(weights / weights.sum())
    xtr_t, ktr_t, ptr_t, mtr_t = map(torch.from_numpy, (xtr, ktr, ptr, mtr.astype(bool)))
    t1 = time.perf_counter()
    steps_done = 0
    losses: list[float] = []
    net.train()
    for step in range(args.steps):
        # Cosine schedule over whichever runs out first, steps or time, so a slow shared CPU
        # still ends with a small learning rate.
        progress = max(step / args.steps, (time.perf_counter() - t1) / (60.0 * args.max_minutes))
        if progress >= 1.0:
            break
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * progress)) * min(1.0, (step + 1) / 30)
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.multinomial(weights_t, args.batch_size, replacement=True, generator=g)
        xb = augment(xtr_t[idx], mtr_t[idx], args.image_size, stamps, g, mr_like=ktr_t[idx] == KINDS.index("mri"))
        out = net(xb)
        loss = F.cross_entropy(out[:, :n_kind], ktr_t[idx], label_smoothing=0.05) + \
            F.cross_entropy(out[:, n_kind:], ptr_t[idx], label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        steps_done = step + 1
        if step % 50 == 0:
            print(f"step {step} loss {np.mean(losses[-50:]):.3f} lr {lr:.5f} "
                  f"{time.perf_counter() - t1:.0f}s", flush=True)
    t_train = time.perf_counter() - t1

    from core.training.common import fp16_round_trip

    fp16_round_trip(net)
    logits = _logits(net, _center(xva, args.image_size))
    kind_pred = logits[:, :n_kind].argmax(1)
    part_pred = logits[:, n_kind:].argmax(1)
    metrics = {
        "heldout_set": f"phantom validation split (seeds +1,000,000; {len(xva)} images, no augmentation)",
        "kind_accuracy": float((kind_pred == kva).mean()),
        "body_part_accuracy": float((part_pred == pva).mean()),
        "per_source_accuracy": {},
        "steps": steps_done, "final_loss": float(np.mean(losses[-50:])) if losses else None,
        "data_seconds": round(t_data, 1), "train_seconds": round(t_train, 1),
    }
    offset = 0
    for name, count in DEFAULT_COUNTS.items():
        n = max(4, int(round(count * args.scale / 5)))
        sl = slice(offset, offset + n)
        metrics["per_source_accuracy"][name] = float(((kind_pred[sl] == kva[sl]) & (part_pred[sl] == pva[sl])).mean())
        offset += n
    # OOD: energy of the kind head on in-distribution validation scans (medical sources).
    ood = ood_calibration(logits[mva.astype(bool), :n_kind])
    ood["calibrated_on"] = f"phantom validation scans ({int(mva.sum())} images, kind head)"
    meta = {
        "id": MODEL_ID, "task": TASK, "version": "3", "framework": "timm", "architecture": args.architecture,
        "architecture_kwargs": {"num_classes": len(LABELS), "in_chans": 3},
        "labels": list(LABELS), "activation": "softmax",
        "heads": {"kind": {"slice": [0, n_kind], "labels": list(KINDS)},
                  "body_part": {"slice": [n_kind, len(LABELS)], "labels": list(BODY_PARTS)},
                  "note": "two softmax heads over one 10-logit output"},
        "input": {"modality": ["MR", "CR", "DX", "CT", "PHOTO", "UNKNOWN"], "channels": 3,
                  "spatial_shape": [args.image_size, args.image_size], "value_range": [0, 1],
                  "normalization": "per-image 1st..99th percentile -> 0..1 over all channels; resized to the "
                                   "input side without keeping the aspect ratio; grayscale repeated to RGB"},
        "known_pairs": known_pairs(),
        "thresholds": {"min_probability": 0.6}, "ensemble_weight": None, "ood": ood,
        "training_data": ("Mostly synthetic: core.synth head-volume slices and brain-tumour slices, and "
                          "core.gates.head_levels axial head slices at the vertex, orbits, skull base and jaw in "
                          "T1, post-contrast T1, T2, FLAIR and PD contrast (MRI brain), "
                          "core.synth chest and lumbar-spine radiographs, core.gates drawings of knee MRI/radiographs, "
                          "lateral cervical-spine films and CT slices, scikit-image photographs ("
                          + ", ".join(TRAIN_PHOTOS) + "), rendered text screenshots, noise, near-blank images "
                          "and drawings. Real images only from registry packages: nilearn's MNI152 T1 template "
                          "(sliced) and pydicom-data test files (" + ", ".join(PYDICOM_FILES) + "), each jittered "
                          f"into many views. Heavy augmentation. {len(xtr)} base images. The ../shared/samples "
                          "scans were used for evaluation only, never for training."),
        "demo": True, "demo_notice": DEMO_NOTICE, "seed": args.seed,
        "command": format_command(TASK, args), "metrics": round_floats(metrics), "licence": LICENCE,
    }
    write_model_folder(net, meta, Path(args.out))
    from core.gates.learned import clear_cache

    clear_cache()
    return round_floats(metrics)
