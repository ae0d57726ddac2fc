"""The server's web page in a real headless Chromium (Debian's `chromium`, driven by playwright): the page
loads its models, a prediction round-trips, entities are highlighted, a QA answer is marked in its context, a
CSV comes back with predictions, and a server error is shown to the user. Screenshots go to
test-artifacts/web/. Without Chromium the test is skipped, unless HEADSTART_REQUIRE_BROWSER=1 (as in .ci/run)."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

from conftest import make_sentiment
from headstart import HeadstartClassifier, HeadstartQA, HeadstartTagger
from headstart.serving.background import BackgroundServer
from headstart.serving.task_server import create_task_app
from test_tasks import make_ner, make_qa

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web"
OPTIONS = {"batch_size": 8, "max_length": 16, "seed": 0, "progress": False, "refit": False}


def _browser_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if CHROMIUM is None or sync_playwright is None:
        reason = "needs chromium (apt-get install chromium) and playwright (pip install playwright)"
        if os.environ.get("HEADSTART_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("web")
    texts, labels = make_sentiment(60)
    HeadstartClassifier(backbone=str(tiny_bert), strategy="full", epochs=2, **OPTIONS).fit(texts, labels).save(
        root / "sentiment")
    tagger = HeadstartTagger(backbone=str(tiny_bert), strategy="full", epochs=10, **OPTIONS).fit(*make_ner(240))
    tagger.save(root / "ner")
    HeadstartQA(backbone=str(tiny_bert), strategy="full", stride=8, epochs=1, **OPTIONS | {"max_length": 24}).fit(
        make_qa(20)).save(root / "qa")
    app = create_task_app([str(root / n) for n in ("sentiment", "ner", "qa")], runs_dir=root)
    with BackgroundServer(app) as background:
        yield background, tagger, root


def test_the_page_in_chromium(server, tmp_path):
    sync_playwright = _browser_or_skip()
    background, tagger, root = server
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sentence = " ".join(make_ner(1, seed=7)[0][0])
    expected_entities = tagger.predict([sentence])[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(accept_downloads=True)
        page.goto(background.url + "/")
        page.wait_for_selector("#model option[value=sentiment]", state="attached", timeout=15_000)

        page.fill("#text", "the movie was great love")  # classification round trip
        page.click("#predict")
        page.wait_for_selector("#label", timeout=15_000)
        assert page.inner_text("#label").strip() in {"pos", "neg"}
        assert page.locator(".bar").count() == 2
        page.screenshot(path=str(ARTIFACTS / "classify.png"))

        page.select_option("#model", "ner")  # entities highlighted
        page.fill("#text", sentence)
        page.click("#predict")
        page.wait_for_selector("#entities", timeout=15_000)
        marks = page.locator("mark.entity")
        assert marks.count() == len(expected_entities) > 0
        assert [marks.nth(i).get_attribute("data-type") for i in range(marks.count())] == [
            e["type"] for e in expected_entities]
        page.screenshot(path=str(ARTIFACTS / "ner.png"))

        record = make_qa(1, seed=5)[0]  # the answer marked in its context
        page.select_option("#model", "qa")
        page.fill("#question", record["question"])
        page.fill("#context", record["context"])
        page.click("#predict")
        page.wait_for_selector("#answer", timeout=15_000)
        assert page.locator("mark.entity").count() == 1
        assert page.inner_text("mark.entity").startswith(page.inner_text("#answer strong"))

        page.select_option("#model", "sentiment")  # a CSV in, predictions out
        texts, _ = make_sentiment(7, seed=9)
        upload = tmp_path / "texts.csv"
        with upload.open("w", newline="") as f:
            csv.writer(f).writerows([["text"], *[[t] for t in texts]])
        page.set_input_files("#csv", str(upload))
        page.wait_for_selector("#csv-done", timeout=15_000)
        with page.expect_download() as download:
            page.click("#download")
        rows = list(csv.DictReader(Path(download.value.path()).read_text().splitlines()))
        assert [r["text"] for r in rows] == texts and {r["prediction"] for r in rows} <= {"pos", "neg"}

        page.fill("#text", "x" * 25_000)  # the server refuses it: the user sees why
        page.click("#predict")
        page.wait_for_selector("#error", state="visible", timeout=15_000)
        assert "characters" in page.inner_text("#error")
        page.screenshot(path=str(ARTIFACTS / "error.png"))

        page.goto(background.url + "/runs")  # the runs page lists the served runs' folders
        page.screenshot(path=str(ARTIFACTS / "runs.png"))
        browser.close()
