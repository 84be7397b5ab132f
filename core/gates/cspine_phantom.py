"""Lateral cervical-spine radiograph drawings for the input gate's "xray/spine" class.

core.synth.spine draws lateral *lumbar* films; real spine radiographs are often cervical
(skull base and mandible at the top, small vertebral bodies in a lordotic curve, the airway in
front, shoulders below). A coarse, parameterised drawing, deterministic per seed; bright = dense.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.synth._fields import smooth_field


def make_cspine_xray(seed: int, size: int = 160) -> np.ndarray:
    """One lateral C-spine radiograph, float32 ``(size, size)`` in 0..1 (facing left or right)."""
    rng = np.random.default_rng(seed)
    hi = size * 2
    vv, uu = np.mgrid[0:1:hi * 1j, 0:1:hi * 1j]  # rows top->bottom, cols anterior (left) -> posterior
    att = np.zeros((hi, hi), np.float32)
    # neck soft tissue: a band between an anterior and a posterior outline, widening to the shoulders
    front = 0.18 + 0.05 * np.sin(np.pi * vv) + rng.uniform(-0.04, 0.04)
    back = 0.82 + 0.06 * vv + rng.uniform(-0.04, 0.04)
    neck = (uu > front - 0.1 * np.clip(vv - 0.75, 0, 1) * 4) & (uu < back)
    att[neck] = 0.3
    # skull base and occiput at the top, mandible in front
    skull = ((uu - 0.62) / 0.45) ** 2 + ((vv + 0.12) / 0.28) ** 2 < 1
    att[skull] = 0.45
    skull_rim = skull & ~ndimage.binary_erosion(skull, iterations=int(hi * 0.02))
    att[skull_rim] = 0.8
    jaw = (np.abs(vv - (0.12 + 0.25 * (0.45 - uu))) < 0.025) & (uu > 0.1) & (uu < 0.45)
    jaw |= (np.abs(uu - 0.42) < 0.02) & (vv > 0.0) & (vv < 0.16)
    att[jaw] = 0.85
    # airway in front of the column
    c_axis = lambda v: 0.5 + rng.uniform(-0.05, 0.05) - 0.09 * np.sin(np.pi * np.clip(v, 0, 1))  # noqa: E731
    airway = (np.abs(uu - (c_axis(vv) - 0.17)) < 0.03) & (vv > 0.2) & (vv < 0.95)
    att[airway] = 0.12
    # C2..C7 bodies along the lordotic curve, with posterior arches and spinous processes
    top = rng.uniform(0.2, 0.28)
    step = rng.uniform(0.095, 0.115)
    for k in range(6):
        vc = top + k * step
        uc = c_axis(vc)
        h = step * rng.uniform(0.62, 0.72) * (1.5 if k == 0 else 1.0)
        w = rng.uniform(0.1, 0.13)
        body = (np.abs(vv - vc) < h / 2) & (np.abs(uu - uc) < w / 2)
        att[body] = 0.75
        att[body & ~ndimage.binary_erosion(body, iterations=3)] = 0.95
        # posterior elements: a bar running back and slightly down
        length = rng.uniform(0.12, 0.18) + (0.08 if k == 5 else 0.0)
        t = (uu - (uc + w / 2)) / length
        bar = (t > 0) & (t < 1) & (np.abs(vv - (vc + 0.05 * t)) < 0.018)
        att[bar] = 0.7
    dens = ((uu - c_axis(top)) / 0.03) ** 2 + ((vv - (top - step * 0.7)) / 0.05) ** 2 < 1
    att[dens] = 0.8
    # shoulders at the bottom
    shoulder = ((uu - rng.uniform(0.5, 0.7)) / 0.5) ** 2 + ((vv - 1.15) / 0.25) ** 2 < 1
    att[shoulder] = np.maximum(att[shoulder], 0.55)
    att += 0.04 * smooth_field(rng, att.shape, hi / 20) * (att > 0)
    img = ndimage.gaussian_filter(att, rng.uniform(1.0, 2.5)).reshape(size, 2, size, 2).mean(axis=(1, 3))
    img = img * rng.uniform(0.8, 1.1) + rng.uniform(0.0, 0.1) + rng.normal(0, rng.uniform(0.005, 0.02), img.shape)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return np.clip(img, 0, 1).astype(np.float32)


__all__ = ["make_cspine_xray"]
