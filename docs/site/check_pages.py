"""Open the built site in headless Chromium and check that its pages really render.

    python docs/site/check_pages.py build/docs/html build/docs/screenshots

For each page below: a screenshot (saved into the second folder) that must not be blank,
every ``<img>`` loaded (``naturalWidth > 0``), every formula typeset by MathJax (an
``mjx-container`` of non-zero size, no ``mjx-merror``) where the page has formulas, and the
page's own landmarks (the API page's functions, the CLI page's commands, the gallery
page's figure, itself checked not blank).  Uses Debian's ``chromium`` and
``chromium-driver`` (``apt-get install chromium chromium-driver``) through Selenium; no
browser is downloaded.  Exits 1 on any failed check, 2 when Chromium is missing.
"""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1600", "--hide-scrollbars")


@dataclass
class Page:
    path: str
    formulas: int = 0                     # at least this many typeset formulas
    images: int = 0                       # at least this many loaded images
    selectors: dict[str, int] = field(default_factory=dict)  # CSS selector -> at least this many
    texts: tuple[str, ...] = ()           # visible text the page must contain
    figure: str | None = None             # CSS selector of a figure whose own screenshot must not be blank


PAGES = (
    Page("index.html", formulas=2, texts=("generative regularisers", "Concepts")),
    Page("concepts.html", formulas=20, texts=("A1", "B2", "discrepancy")),
    Page("_autosummary/genprior.methods.html", selectors={"dl.py.function": 2}, texts=("genprior.methods", "solve", "InputError")),
    Page("auto_examples/plot_reconstruct_vae.html", formulas=1, images=1, figure="img.sphx-glr-single-img",
         texts=("Reconstruct with a trained VAE", "PSNR")),
    Page("cli.html", selectors={"section": 10}, texts=("genprior reconstruct", "--problem", "genprior train vae")),
    Page("paper.html", images=10, texts=("Figure 10",)),
)


def blank_fraction(png: bytes) -> tuple[float, int]:
    """``(share of pixels that differ from the most common colour, number of grey levels used)``."""
    from PIL import Image

    grey = Image.open(io.BytesIO(png)).convert("L")
    histogram = grey.histogram()
    total = sum(histogram)
    return 1 - max(histogram) / total, sum(1 for h in histogram if h)


def not_blank(png: bytes, what: str) -> list[str]:
    inked, levels = blank_fraction(png)
    if inked < 0.01 or levels < 8:
        return [f"{what} looks blank ({inked:.1%} of pixels off the background, {levels} grey levels)"]
    return []


def driver():
    from selenium import webdriver

    binary = next((p for p in CHROMIUM if Path(p).exists()), None)
    if binary is None or not Path(CHROMEDRIVER).exists():
        print("error: needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
        sys.exit(2)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='genprior-chromium-')}")
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))


def wait_for(browser, script: str, timeout: float = 20.0):
    """Poll ``script`` (a JS expression) until it is truthy or ``timeout`` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = browser.execute_script(f"return ({script});")
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def check_page(browser, site: Path, page: Page, shots: Path) -> list[str]:
    file = site / page.path
    if not file.exists():
        return [f"{page.path}: not built"]
    browser.get(file.as_uri())
    wait_for(browser, "document.readyState === 'complete'")
    faults = []
    if page.formulas:
        wait_for(browser, "window.MathJax && MathJax.startup && MathJax.startup.promise && true")
        browser.execute_async_script(  # MathJax's own promise: resolved once the page is typeset
            "const done = arguments[0]; window.MathJax && MathJax.startup && MathJax.startup.promise"
            " ? MathJax.startup.promise.then(() => done(true), () => done(false)) : done(false);")
        sizes = browser.execute_script(
            "return Array.from(document.querySelectorAll('mjx-container')).map(e => e.getBoundingClientRect().width);")
        errors = browser.execute_script("return document.querySelectorAll('mjx-merror').length;")
        if len(sizes) < page.formulas:
            faults.append(f"{len(sizes)} formulas typeset, expected at least {page.formulas}")
        if any(w <= 0 for w in sizes):
            faults.append(f"{sum(w <= 0 for w in sizes)} formulas of zero width")
        if errors:
            faults.append(f"{errors} MathJax errors")
    wait_for(browser, "Array.from(document.images).every(i => i.complete)")
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth]);")
    broken = [src for src, width in images if not width]
    if broken:
        faults.append(f"images not loaded: {broken[:5]}")
    if len(images) - len(broken) < page.images:
        faults.append(f"{len(images) - len(broken)} images loaded, expected at least {page.images}")
    for selector, count in page.selectors.items():
        found = browser.execute_script(f"return document.querySelectorAll({selector!r}).length;")
        if found < count:
            faults.append(f"{found} elements {selector!r}, expected at least {count}")
    text = browser.execute_script("return document.body.innerText;")
    faults += [f"text {t!r} not on the page" for t in page.texts if t not in text]
    png = browser.get_screenshot_as_png()
    name = page.path.replace("/", "__").removesuffix(".html")
    (shots / f"{name}.png").write_bytes(png)
    faults += not_blank(png, "the screenshot")
    if page.figure:
        from selenium.webdriver.common.by import By

        figures = browser.find_elements(By.CSS_SELECTOR, page.figure)
        if not figures:
            faults.append(f"no figure {page.figure!r}")
        else:
            browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", figures[0])
            wait_for(browser, "Array.from(document.images).every(i => i.complete)")
            time.sleep(0.5)  # let the scroll settle before the element's screenshot
            figure_png = figures[0].screenshot_as_png
            (shots / f"{name}__figure.png").write_bytes(figure_png)
            faults += not_blank(figure_png, "the figure")
    inked, _ = blank_fraction(png)
    formulas = browser.execute_script("return document.querySelectorAll('mjx-container').length;")
    print(f"{page.path:45s} {len(images) - len(broken):3d} images  {formulas:3d} formulas  "
          f"{inked:6.1%} inked  {'ok' if not faults else 'FAILED'}")
    return [f"{page.path}: {f}" for f in faults]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    site, shots = Path(argv[0]).resolve(), Path(argv[1])
    if shots.exists():
        shutil.rmtree(shots)
    shots.mkdir(parents=True)
    browser = driver()
    try:
        faults = [f for page in PAGES for f in check_page(browser, site, page, shots)]
    finally:
        browser.quit()
    for fault in faults:
        print("error:", fault)
    failed = len({f.split(":")[0] for f in faults})
    print(f"pages checked: {len(PAGES)}, with faults: {failed}; screenshots in {shots}")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
