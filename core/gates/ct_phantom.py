"""CT-looking slices for the input gate's "ct" class: head CT from the T1 head phantom, chest CT drawn.

RadLens has no CT page, so the gate only needs to know CT when it sees it (and refuse it).
Head CT re-renders :func:`core.synth.head.make_head_phantom` labels with CT contrast (bone
white, brain grey with little grey/white contrast, CSF darker, air black); chest CT is a
coarse drawing (body, lungs with vessels, mediastinum, vertebra, ribs, table).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.synth._fields import smooth_field


def head_ct_views(seed: int, n_views: int = 6, size: int = 160) -> list[np.ndarray]:
    """``n_views`` CT-contrast slices (axial/coronal/sagittal, random levels) of one phantom head.

    Returns:
        float32 ``(size, size)`` images in 0..1 (brain window).
    """
    from skimage.transform import resize

    from core.synth.head import make_head_phantom

    rng = np.random.default_rng(seed)
    head = make_head_phantom(int(rng.integers(2**31 - 1)), shape=(96, 112, 96), spacing_mm=2.0, noise_level=0.0,
                             bias_strength=0.0)
    t1 = head.scan.array[0]
    lab = head.labels
    scalp_skull = lab == 1
    bone = scalp_skull & (t1 < np.median(t1[scalp_skull]))
    ct = np.zeros(t1.shape, np.float32)
    ct[scalp_skull] = 0.42
    ct[bone] = 1.0
    ct[np.isin(lab, [2, 5, 6])] = 0.33
    ct[np.isin(lab, [3, 7, 8, 9, 10])] = 0.48
    ct[np.isin(lab, [4, 11])] = 0.44
    views = []
    for _ in range(n_views):
        axis = int(rng.choice([2, 2, 1, 0]))
        frac = rng.uniform(0.3, 0.75)
        idx = int(frac * ct.shape[axis])
        sl = np.take(ct, idx, axis=axis)
        img = np.flipud(sl.T)
        img = ndimage.gaussian_filter(img, 0.6)
        img = resize(img, (size, size), order=1, anti_aliasing=False)
        if rng.random() < 0.25:  # bone window: soft tissue flat grey
            img = np.where(img > 0.9, img, np.minimum(img, 0.3) * 1.2)
        img = img + rng.normal(0, rng.uniform(0.01, 0.03), img.shape) * (img > 0.05)
        views.append(np.clip(img, 0, 1).astype(np.float32))
    return views


def make_chest_ct(seed: int, size: int = 160) -> np.ndarray:
    """One axial chest CT slice (lung or mediastinal window), float32 ``(size, size)`` in 0..1."""
    rng = np.random.default_rng(seed)
    vv, uu = np.mgrid[-1:1:size * 1j, -1:1:size * 1j]
    img = np.zeros((size, size), np.float32)
    bw, bh = rng.uniform(0.75, 0.95), rng.uniform(0.5, 0.7)
    body = (uu / bw) ** 2 + ((vv - 0.05) / bh) ** 2 < 1
    img[body] = 0.2  # fat
    muscle = (uu / (bw - 0.06)) ** 2 + ((vv - 0.05) / (bh - 0.06)) ** 2 < 1
    img[muscle] = 0.45
    lung_window = rng.random() < 0.5
    for side in (-1, 1):
        lung = ((uu - side * 0.38) / rng.uniform(0.25, 0.32)) ** 2 + ((vv - 0.0) / rng.uniform(0.38, 0.48)) ** 2 < 1
        img[lung & muscle] = 0.03
        vessels = (smooth_field(rng, (size, size), 3.0) > 2.0) & lung & muscle
        img[vessels] = 0.45
    heart = ((uu + 0.05) / 0.22) ** 2 + ((vv + 0.05) / 0.25) ** 2 < 1
    img[heart] = 0.52
    aorta = (uu - 0.05) ** 2 + (vv - 0.25) ** 2 < 0.07 ** 2
    img[aorta] = 0.55
    vert = uu ** 2 + (vv - 0.45) ** 2 < 0.1 ** 2
    img[vert] = 0.9
    img[(uu ** 2 + (vv - 0.45) ** 2 < 0.06 ** 2)] = 0.7
    ang = np.arctan2(vv - 0.05, uu)
    r = np.sqrt((uu / (bw - 0.08)) ** 2 + ((vv - 0.05) / (bh - 0.08)) ** 2)
    for a in np.linspace(-np.pi, np.pi, int(rng.integers(8, 14)), endpoint=False):
        rib = (np.abs(r - 1.0) < 0.04) & (np.abs(np.angle(np.exp(1j * (ang - a)))) < 0.08)
        img[rib] = 0.95
    table = (vv > bh + 0.15) & (vv < bh + 0.2) & (np.abs(uu) < 0.9)
    img[table] = 0.6
    if lung_window:  # lung window: soft tissues saturate white
        img = np.where(img > 0.1, np.minimum(1.0, img * 1.8), img * 3)
    img = ndimage.gaussian_filter(img, 0.7) + rng.normal(0, rng.uniform(0.01, 0.03), img.shape) * body
    return np.clip(img, 0, 1).astype(np.float32)


__all__ = ["head_ct_views", "make_chest_ct"]
