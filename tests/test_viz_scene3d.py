"""3D scenes: downsampling, isosurfaces, label meshes, height fields, off-screen rendering."""

from __future__ import annotations

import numpy as np
import pytest

from core.viz import scene3d


def _sphere(n: int = 40, radius: float = 12.0) -> np.ndarray:
    g = np.indices((n, n, n)).astype(np.float32) - (n - 1) / 2
    return (np.sqrt((g**2).sum(axis=0)) <= radius).astype(np.float32) * 100.0


def test_downsample_caps_the_side_and_scales_spacing():
    vol = np.ones((200, 150, 100), dtype=np.float32)
    small, spacing = scene3d.downsample_volume(vol, (1.0, 1.0, 2.0), max_side=96)
    assert max(small.shape) <= 96
    assert spacing == (3.0, 3.0, 6.0)
    labels, _ = scene3d.downsample_volume(np.full((200, 10, 10), 7, np.int16), (1, 1, 1), labels=True)
    assert labels.dtype == np.int16 and set(np.unique(labels)) == {7}


def test_isosurface_of_a_sphere_has_its_size_in_mm():
    mesh = scene3d.isosurface(_sphere(), (2.0, 2.0, 2.0), max_faces=5000)
    assert 0 < mesh.n_cells <= 5000
    extent = np.array(mesh.bounds[1::2]) - np.array(mesh.bounds[0::2])
    assert np.allclose(extent, 2 * 12 * 2.0, rtol=0.12)  # diameter 24 voxels x 2 mm
    centre = (np.array(mesh.bounds[1::2]) + np.array(mesh.bounds[0::2])) / 2
    assert np.allclose(centre, 19.5 * 2.0, atol=1.5)  # padding offset undone


def test_constant_volume_has_no_surface():
    with pytest.raises(ValueError, match="constant"):
        scene3d.isosurface(np.zeros((10, 10, 10), np.float32), (1, 1, 1))


def test_label_meshes_one_per_present_label():
    labels = np.zeros((30, 30, 30), dtype=np.int16)
    labels[5:12, 5:12, 5:12] = 1
    labels[18:26, 18:26, 18:26] = 2
    meshes = scene3d.label_meshes(labels, (1, 1, 1), {1: "left", 2: "right", 3: "absent"},
                                  {1: (255, 0, 0), 2: (0, 0, 255)})
    assert [m.name for m in meshes] == ["left", "right"]
    assert meshes[0].mesh.bounds[1] < meshes[1].mesh.bounds[0]  # left block sits below x of the right one


def test_height_field_is_small_and_upright():
    img = np.zeros((400, 300), dtype=np.float32)
    img[:50] = 1.0  # bright top rows
    hf = scene3d.height_field(img, max_side=100)
    assert hf.n_points <= 100 * 100
    z = hf.points[:, 2]
    y = hf.points[:, 1]
    assert z[y > y.max() * 0.9].mean() > z[y < y.max() * 0.5].mean()  # top of the image is at +y and raised


def test_scenes_render_off_screen():
    plotter = scene3d.head_scene(_sphere(60, 20) + 1, (1, 1, 1), volume_rendering=True)
    img = scene3d.screenshot(plotter)
    plotter.close()
    assert img.shape == (480, 640, 3)
    assert (np.abs(img.astype(int) - img[0, 0].astype(int)).sum(axis=2) > 30).mean() > 0.02  # something drawn
    plotter = scene3d.image_scene(np.random.default_rng(0).random((64, 64)))
    assert scene3d.screenshot(plotter).std() > 0
    plotter.close()


def test_head_model_surface_stays_on_the_full_resolution_grid():
    vol = _sphere(200, 60)  # 200^3 -> downsampled by 3
    head = scene3d.prepare_head(vol, (0.5, 0.5, 0.5))
    assert max(head.volume.shape) <= scene3d.MAX_SIDE_3D
    centre = (np.array(head.surface.bounds[1::2]) + np.array(head.surface.bounds[0::2])) / 2
    assert np.allclose(centre, 99.5 * 0.5, atol=0.6)  # same centre as the full-resolution sphere
    assert head.surface.n_cells <= scene3d.MAX_FACES


def test_outer_mask_fills_cavities_and_drops_specks():
    vol = _sphere(40, 15)
    vol[18:22, 18:22, 18:22] = 0  # a ventricle-like cavity
    vol[0, 0, 0] = 100  # an isolated bright speck
    mask = scene3d.outer_mask(vol, 50)
    assert mask[20, 20, 20] and not mask[0, 0, 0]


@pytest.mark.filterwarnings("ignore:Plotter.export_html is deprecated")  # the call stpyvista makes
def test_browser_export_makes_no_network_calls(monkeypatch):
    """stpyvista's trame export must stay offline (trame-vtklocal would fetch a WebAssembly bundle)."""
    import socket

    import core  # noqa: F401  (configure_offline sets the switches)

    attempts: list[tuple] = []

    def refuse(*args, **kwargs):  # records, then fails like an offline machine (the export runs it in a task)
        attempts.append(args[:2])
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    plotter = scene3d.new_plotter()
    plotter.add_mesh(scene3d.isosurface(_sphere(30, 10), (1, 1, 1), max_faces=500))
    html = plotter.export_html(filename=None).read()
    plotter.close()
    assert "<html" in html.lower() and len(html) > 100_000
    assert attempts == []


def test_plotter_then_torchvision_does_not_crash_the_process():
    """A VTK render window followed by `import torchvision` used to segfault (Mesa LLVM vs triton)."""
    import subprocess
    import sys

    from tests.apptest_utils import ROOT

    code = (
        "from core.viz import scene3d\n"
        "import pyvista as pv\n"
        "p = scene3d.new_plotter(); p.add_mesh(pv.Sphere()); p.screenshot(return_img=True)\n"
        "import torchvision.models\n"
        "print('survived')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "survived" in proc.stdout, proc.stderr[-2000:]
