"""AppTest: the three image-model pages run the real public samples end to end with tiny test models.

The tests write tiny untrained model folders (demo flag set) into a tmp weights folder and point
``RADLENS_WEIGHTS_DIR`` at it, so the pages explain that the models are phantom-trained demos.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import _image_models as im
from core.config import get_settings

ROOT = Path(__file__).resolve().parent.parent
PAGES = {"brain-tumor": ("3_Brain_Tumor.py", "brain_tumor", "*.jpg"),
         "chest-xray": ("4_Chest_X-ray.py", "chest_xray", "*.*"),
         "spine-xray": ("5_Spine_X-ray.py", "spine_xray", "*.dicom")}


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("app-weights")
    im.brain_folder(root)
    im.chest_folder(root)
    im.spine_folder(root, decision=0.0)  # always abnormal, so the detector and boxes render too
    return root


@pytest.fixture()
def app_env(weights: Path, monkeypatch: pytest.MonkeyPatch):
    from core.tasks import clear_task_cache

    monkeypatch.setenv("RADLENS_WEIGHTS_DIR", str(weights))
    get_settings.cache_clear()
    clear_task_cache()
    yield weights
    monkeypatch.delenv("RADLENS_WEIGHTS_DIR")
    get_settings.cache_clear()
    clear_task_cache()


def _texts(at) -> str:
    parts = [e.value for kind in ("info", "warning", "error", "success", "caption", "markdown") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("task_name", list(PAGES))
def test_page_runs_every_public_sample(app_env: Path, samples_dir: Path, task_name: str) -> None:
    from streamlit.testing.v1 import AppTest

    page, folder, pattern = PAGES[task_name]
    key = folder
    files = sorted(p.name for p in (samples_dir / folder).glob(pattern) if p.suffix.lower() != ".md")
    assert files
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=180)
    at.run()
    at.toggle(key=f"{key}_public").set_value(True).run()
    for i, name in enumerate(files):
        if i:
            at.selectbox(key=f"{key}_public_file").select_index(i).run()
        assert not at.exception, (name, at.exception)
        text = _texts(at)
        assert "phantom" in text.lower(), name
        assert "Processing time" in text, (name, text[:2000])
        assert at.selectbox(key=f"{key}_cam_class").options, name
        assert at.slider(key=f"{key}_cam_opacity").value == pytest.approx(0.4)
        assert len(at.get("image")) >= 1, name
    if task_name != "brain-tumor":  # ensembles: a Grad-CAM model selector
        assert len(at.selectbox(key=f"{key}_cam_model").options) == (2 if task_name == "chest-xray" else 3)
    if task_name == "spine-xray":
        assert "UNVERIFIED" not in _texts(at)  # the tiny models set their own threshold (0.0) in metadata
        assert "pixel columns" in _texts(at)  # the box table is shown


def test_grad_cam_controls_rerender(app_env: Path, samples_dir: Path) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "3_Brain_Tumor.py"), default_timeout=180)
    at.run()
    at.toggle(key="brain_tumor_public").set_value(True).run()
    select = at.selectbox(key="brain_tumor_cam_class")
    assert set(select.options) == set(im.BRAIN_LABELS)
    select.select("meningioma").run()
    at.slider(key="brain_tumor_cam_opacity").set_value(0.8).run()
    assert not at.exception
    assert at.selectbox(key="brain_tumor_cam_class").value == "meningioma"


def test_page_without_models_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    from core.tasks import clear_task_cache

    monkeypatch.setenv("RADLENS_WEIGHTS_DIR", str(tmp_path))
    get_settings.cache_clear()
    clear_task_cache()
    try:
        at = AppTest.from_file(str(ROOT / "pages" / "4_Chest_X-ray.py"), default_timeout=120)
        at.run()
        assert not at.exception
        assert any("No model folder for this task" in w.value for w in at.warning)
    finally:
        monkeypatch.delenv("RADLENS_WEIGHTS_DIR")
        get_settings.cache_clear()
        clear_task_cache()


def test_phantom_sample_case_on_the_spine_page(app_env: Path) -> None:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "5_Spine_X-ray.py"), default_timeout=180)
    at.run()
    at.radio(key="spine_xray_source").set_value("Sample case").run()
    options = at.selectbox(key="spine_xray_sample").options
    assert options and all("spine" in o.lower() for o in options)
    at.selectbox(key="spine_xray_sample").select_index(len(options) - 1).run()
    assert not at.exception
    text = _texts(at)
    assert "abnormal" in text and "Processing time" in text
    assert len(at.get("image")) >= 1


def test_refused_image_is_still_shown_with_the_reason(app_env: Path) -> None:
    from apptest_utils import page_text, run_page, upload
    from core.synth.chest import make_chest_xray
    from core.synth.dicom import as_dicom_bytes

    image, _ = make_chest_xray(3, set(), size=256)
    chest = as_dicom_bytes(image, modality="CR", body_part="CHEST", pixel_spacing_mm=0.5)
    at = run_page("pages/3_Brain_Tumor.py")
    at = upload(at, [("chest.dcm", chest)], key="brain_tumor_upload")
    assert not at.exception
    text = page_text(at)
    assert "refused input as received" in text  # the researcher sees what was judged
    assert "chest" in text.lower()  # ...and why: a chest radiograph on the brain-tumour page
    assert len(at.get("image")) >= 1
