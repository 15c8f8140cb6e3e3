"""``tfk ui`` in a real browser: headless Chromium uploads files, presses Run and reads the page.

Needs Gradio (``tfk[ui]``), Selenium and Debian's ``chromium`` + ``chromium-driver`` (``.ci/run`` installs
them); skipped cleanly where any is missing. The page is served on loopback by the same ``launch`` that
``tfk ui`` calls; LawDNet runs with tiny random weights in the published layout, imported into the store
with ``tfk weights import`` as a user would import the real ones.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("gradio")
pytest.importorskip("selenium")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"),
]

TIMEOUT = 240.0


@pytest.fixture(scope="module")
def tiny_lawdnet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A generator checkpoint in the published layout and a 2-layer DP2, as files to import."""
    import torch
    from tfk_lawdnet.models.lawdnet import LawDNet

    from tfk.audio.deepspeech_pt import DeepSpeech2

    d = tmp_path_factory.mktemp("uiweights")
    torch.manual_seed(0)
    sd = {"module." + k: v for k, v in LawDNet().state_dict().items()}
    gen = d / "checkpoint_epoch_170.pth"
    torch.save({"epoch": 171, "state_dict": {"net_g": sd, "net_dI": {}, "net_dV": {}}, "optimizer": {}}, gen)
    dp2 = d / "dp2_tiny.pt"
    torch.save(DeepSpeech2(hidden_size=16, hidden_layers=2).state_dict(), dp2)
    return {"generator": gen, "dp2": dp2}


def _start_ui(tmp_path: Path) -> tuple[subprocess.Popen, str]:
    """``tfk ui`` as a user starts it (its own process), on a free loopback port; returns (process, url)."""
    env = dict(os.environ)
    echo_dir = str(Path(__file__).resolve().parents[1] / "fixtures" / "tfk-echo")
    env["PYTHONPATH"] = os.pathsep.join([echo_dir, *filter(None, [env.get("PYTHONPATH")])])
    log = (tmp_path / "ui.log").open("w")
    cmd = [sys.executable, "-m", "tfk.cli.main", "ui", "--port", "0", "--models", "echo,lawdnet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    line = proc.stdout.readline().strip()  # the URL, printed once the page listens
    if not line.startswith("http://127.0.0.1:"):
        proc.kill()
        raise AssertionError(f"tfk ui did not start: {line!r} {(tmp_path / 'ui.log').read_text()}")
    return proc, line


@pytest.fixture
def page(tfk_home, tfk_cli, tiny_lawdnet, tmp_path, request):
    """(url, driver): ``tfk ui`` with echo and lawdnet tabs, weights imported, and a headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for art, key in (("lawdnet/checkpoint_epoch_170", "generator"), ("shared/deepspeech_pytorch_v3", "dp2")):
        r = tfk_cli("weights", "import", art, str(tiny_lawdnet[key]))
        assert r.exit_code == 0, r.stderr
    proc, url = _start_ui(tmp_path)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,2200"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        driver.get(url)
        yield url, driver
    finally:
        shot_dir = Path(os.environ.get("TFK_TEST_ARTIFACTS") or tmp_path)
        shot_dir.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(shot_dir / f"tfk-ui-{request.node.name}.png"))
        driver.quit()
        proc.send_signal(signal.SIGINT)  # Ctrl-C: the page stops
        assert proc.wait(timeout=60) == 130


def _open_tab(driver, name: str) -> None:
    from selenium.webdriver.common.by import By

    _wait(lambda: [b for b in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]") if b.text.strip() == name])
    tab = next(b for b in driver.find_elements(By.CSS_SELECTOR, "button[role=tab]") if b.text.strip() == name)
    tab.click()


def _wait(cond, timeout: float = TIMEOUT):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        value = cond()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError("timed out waiting for the page")


def _upload(driver, elem_id: str, path: Path) -> None:
    from selenium.webdriver.common.by import By

    box = _wait(lambda: driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} input[type=file]"))
    box[0].send_keys(str(path))
    # the upload is done when the file's name shows in the widget
    _wait(lambda: path.stem in driver.find_element(By.ID, elem_id).text)


def _set_number(driver, elem_id: str, value: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=number]")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value), Keys.TAB)


def _status(driver, model: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"#status-{model} textarea").get_attribute("value") or ""


def test_dub_a_clip_in_the_browser(page, tmp_path):
    from selenium.webdriver.common.by import By

    from tfk.media import count_frames, probe
    from tfk.testing.synth import make_audio_file, make_talking_clip

    _, driver = page
    clip = make_talking_clip(tmp_path / "template.mp4", seconds=1.0, size=192)
    speech = make_audio_file(tmp_path / "speech.wav", seconds=0.8)
    _open_tab(driver, "lawdnet")
    _upload(driver, "lawdnet-opt-video", clip)
    _upload(driver, "lawdnet-opt-audio", speech)
    _set_number(driver, "lawdnet-opt-mouth_size", 64)
    _set_number(driver, "lawdnet-opt-grid_size", 8)
    _set_number(driver, "lawdnet-opt-batch_size", 8)
    driver.find_element(By.ID, "run-lawdnet").click()
    _wait(lambda: _status(driver, "lawdnet"))
    status = _status(driver, "lawdnet")
    assert status.startswith("done"), status
    video = _wait(lambda: driver.find_elements(By.CSS_SELECTOR, "#result-lawdnet video[src]"))
    assert video[0].get_attribute("src").startswith("http://127.0.0.1")
    from tfk.ui.app import jobs_root

    outs = list((jobs_root() / "lawdnet").glob("*/result.mp4"))
    assert len(outs) == 1
    info = probe(outs[0])
    assert info.has_video and info.has_audio
    assert count_frames(outs[0], exact=True) in (20, 21)  # 25 x 0.8 s (+ AAC priming)
    assert abs(info.audio_duration - info.video_duration) <= 0.04
    assert driver.find_elements(By.CSS_SELECTOR, "#download-lawdnet a")  # a download link


def test_missing_weights_then_a_text_file_gets_the_clis_error_line(page, tfk_cli, tmp_path, monkeypatch):
    from selenium.webdriver.common.by import By
    from tfk_echo.plugin import WEIGHTS_BYTES, WEIGHTS_SHA256

    _, driver = page
    # echo's weights are not in the store: the page says which and how to get them instead of a form
    _open_tab(driver, "echo")
    weights = _wait(lambda: driver.find_element(By.ID, "weights-echo").text)
    assert "echo/model" in weights and "tfk weights pull echo/model" in weights
    assert not [b for b in driver.find_elements(By.ID, "run-echo") if b.is_displayed()]

    mirror = tmp_path / "mirror"
    (mirror / "sha256" / WEIGHTS_SHA256).mkdir(parents=True)
    (mirror / "sha256" / WEIGHTS_SHA256 / "echo-model.bin").write_bytes(WEIGHTS_BYTES)
    monkeypatch.setenv("TFK_WEIGHTS_MIRROR", mirror.as_uri())
    assert tfk_cli("weights", "pull", "echo/model").exit_code == 0
    driver.refresh()  # a reload re-checks the store: the form is there now
    _open_tab(driver, "echo")
    run = _wait(lambda: [b for b in driver.find_elements(By.ID, "run-echo") if b.is_displayed()])
    assert not driver.find_element(By.ID, "weights-echo").text.strip()

    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a video\n" * 50)
    cli = tfk_cli("infer", "echo", "--video", str(bogus), "-o", str(tmp_path / "o.mp4"))
    assert cli.exit_code == 65
    cli_line = next(line for line in cli.stderr.splitlines() if line.startswith("error:"))
    _upload(driver, "echo-opt-video", bogus)
    run[0].click()
    status = _wait(lambda: _status(driver, "echo"))
    assert status.splitlines()[0] == cli_line.replace(str(bogus), bogus.name)  # the page names the upload
    assert "Traceback" not in driver.page_source
