"""A run's report.html opens in headless Chromium, offline, with every image loaded."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from gancluster.runs import DataSpec, train_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

# Appended to a COPY of the report (the report itself has no script): once the page has loaded,
# it writes how many images there are and how many decoded into the page title.
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.title = 'IMAGES ' + ok + '/' + imgs.length;
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make setup installs it as root)")
def test_report_opens_with_every_image_loaded(tmp_path) -> None:
    rng = np.random.default_rng(0)
    images = np.zeros((90, 8, 8), dtype=np.uint8)
    for i in range(90):  # three classes of 8x8 images: a bar at one of three positions
        images[i, :, 2 * (i % 3) + 1] = 255
    images = np.clip(images + rng.integers(0, 40, images.shape), 0, 255).astype(np.uint8)
    labels = np.arange(90) % 3
    data = tmp_path / "bars.npz"
    np.savez(data, X=images, y=labels)
    run = tmp_path / "run"
    train_run(run, "clustergan", DataSpec(source=str(data), eval_split=None),
              {"n_clusters": 3, "max_steps": 30, "warmup_steps": 10, "random_state": 0})
    report = run / "report.html"
    text = report.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text  # self-contained
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", PROBE + "</body>"))
    out = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    match = re.search(r"IMAGES (\d+)/(\d+)", out.stdout)
    assert match, f"the page did not finish loading: {out.stderr[-500:]}"
    loaded, total = int(match.group(1)), int(match.group(2))
    assert total >= 4  # samples, interpolation, curves, confusion, embedding
    assert loaded == total
