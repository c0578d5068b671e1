"""Render report.html in headless Chromium and check the screenshot shows a page.

Skipped without a `chromium` binary; on Debian: apt-get install -y chromium.
"""

import shutil
import subprocess

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(built, tmp_path):
    from PIL import Image  # Pillow comes with matplotlib

    out, _, _ = built
    shot = tmp_path / "shot.png"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,3000",
        f"--screenshot={shot}",
    ]
    subprocess.run([CHROMIUM, *flags, (out / "report.html").as_uri()], capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32)  # (H, W, 3)
    assert pixels.shape[:2] == (3000, 1280)
    ink = (pixels < 200).any(axis=2)  # text, table rules, plot lines
    assert ink.mean() > 0.01, "the page is (nearly) blank"
    assert ink[:, :640].mean() > 0.005 and ink[1500:].mean() > 0.005  # content left and further down
    colours = np.unique(pixels[..., 0] << 16 | pixels[..., 1] << 8 | pixels[..., 2])
    assert len(colours) > 100  # plots and coloured cells, not just black text on white
