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
    # soft tissue: denser towards the thick posterior neck muscles; films differ in exposure
    att[neck] = (rng.uniform(0.22, 0.5) * (0.75 + 0.5 * uu))[neck]
    # skull base and occiput at the top (a larger part of the cranium on some films), mandible in front
    sk_v = rng.uniform(-0.2, -0.02)
    sk_r = rng.uniform(0.26, 0.4)
    skull = ((uu - rng.uniform(0.55, 0.7)) / rng.uniform(0.4, 0.55)) ** 2 + ((vv - sk_v) / sk_r) ** 2 < 1
    att[skull] = 0.45 + 0.1 * smooth_field(rng, att.shape, hi / 30)[skull]  # diploe and sinuses
    skull_rim = skull & ~ndimage.binary_erosion(skull, iterations=int(hi * rng.uniform(0.015, 0.035)))
    att[skull_rim] = 0.85
    # mandible: body sloping down to the chin, ramus up to the skull base; teeth along the top
    jaw_w = rng.uniform(0.02, 0.035)
    jaw_v0 = rng.uniform(0.1, 0.2)
    jaw = (np.abs(vv - (jaw_v0 + 0.25 * (0.45 - uu))) < jaw_w) & (uu > 0.05) & (uu < 0.45)
    jaw |= (np.abs(uu - 0.42 - 0.1 * (jaw_v0 - vv)) < jaw_w * 0.9) & (vv > jaw_v0 - 0.18) & (vv < jaw_v0 + 0.02)
    att[jaw] = 0.85
    teeth = (np.abs(vv - (jaw_v0 - 0.05 + 0.25 * (0.45 - uu))) < 0.03) & (uu > 0.08) & (uu < 0.36) \
        & (np.cos(uu * 2 * np.pi / rng.uniform(0.03, 0.045)) > 0)
    att[teeth] = np.maximum(att[teeth], 0.95)
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
        att[body] = 0.7 + 0.08 * smooth_field(rng, att.shape, hi / 60)[body]  # trabecular bone
        att[body & ~ndimage.binary_erosion(body, iterations=3)] = 0.95
        # articular pillar (lateral masses and facets) overlapping just behind the body
        pillar = (np.abs(vv - vc - 0.01) < h * 0.55) & (np.abs(uu - (uc + w / 2 + 0.035)) < 0.03)
        att[pillar] = np.maximum(att[pillar], 0.65)
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
    # films are rarely aligned: tilt and zoom (air outside)
    att = ndimage.rotate(att, float(rng.normal(0.0, 8.0)), reshape=False, order=1, mode="constant", cval=0.0)
    zoom = rng.uniform(1.0, 1.4)
    if zoom > 1.05:
        crop = int(hi / zoom)
        r0, c0 = rng.integers(0, hi - crop + 1, size=2)
        att = ndimage.zoom(att[r0:r0 + crop, c0:c0 + crop], hi / crop, order=1)[:hi, :hi]
        if att.shape != (hi, hi):
            att = np.pad(att, ((0, hi - att.shape[0]), (0, hi - att.shape[1])))
    img = ndimage.gaussian_filter(att, rng.uniform(1.0, 2.5)).reshape(size, 2, size, 2).mean(axis=(1, 3))
    img = img * rng.uniform(0.8, 1.1) + rng.uniform(0.0, 0.1) + rng.normal(0, rng.uniform(0.005, 0.02), img.shape)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    return np.clip(img, 0, 1).astype(np.float32)


__all__ = ["make_cspine_xray"]
