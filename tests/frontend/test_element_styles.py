"""`<connect-payouts>`'s styles in a real Chromium: one constructable stylesheet
(payouts/styles.mjs), adopted by each element's shadow root and shared by every element on the
page, applied inside and leaking nowhere outside. `frontend/` is served as files by a real HTTP
server, as a platform would serve it; the elements get no backend, so they draw only their frame.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from os import PathLike
from pathlib import Path
from typing import Any

import pytest

from tests.frontend.browser import launch_chromium

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


class _Files(SimpleHTTPRequestHandler):
    def guess_type(self, path: str | PathLike[str]) -> str:
        """Module scripts need a JavaScript type; Python's table may not know `.mjs`."""
        return "text/javascript" if str(path).endswith(".mjs") else super().guess_type(path)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads the page, not the access log."""


@pytest.fixture(scope="module")
def frontend_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Files, directory=str(FRONTEND)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


PROBE = """
async () => {
  await import("/connect-payouts.mjs");
  const outside = document.createElement("h2");
  outside.textContent = "Outside";
  document.body.append(outside);
  const [a, b] = ["Payouts", "Payouts of the other team"].map((heading) => {
    const element = document.createElement("connect-payouts");
    element.setAttribute("heading", heading);
    document.body.append(element);
    return element;
  });
  const sheets = a.shadowRoot.adoptedStyleSheets;
  const title = a.shadowRoot.querySelector("h2");
  return {
    sheets: sheets.length,
    shared: sheets[0] === b.shadowRoot.adoptedStyleSheets[0],
    hostRule: [...sheets[0].cssRules].some((rule) => rule.selectorText === ":host"),
    styleElements: a.shadowRoot.querySelectorAll("style").length,
    documentSheets: document.adoptedStyleSheets.length,
    titleSize: getComputedStyle(title).fontSize,
    titleMargin: getComputedStyle(title).marginBottom,
    outsideSize: getComputedStyle(outside).fontSize,
    headings: [a, b].map((e) => e.shadowRoot.querySelector("h2").textContent),
    labelledBy: a.shadowRoot.querySelector("section").getAttribute("aria-labelledby"),
    display: getComputedStyle(a).display,
  };
}
"""


def test_every_element_adopts_the_one_shared_stylesheet_and_nothing_leaks_out(
    frontend_url: str,
) -> None:
    with launch_chromium() as browser:
        page = browser.new_page()
        page.goto(f"{frontend_url}/")
        seen = page.evaluate(PROBE)
    assert seen["sheets"] == 1
    assert seen["shared"] is True
    assert seen["hostRule"] is True
    assert seen["styleElements"] == 0
    assert seen["documentSheets"] == 0
    # Inside, `h2 { font-size: 1.25rem; margin: 0 0 .75rem }`; the page's h2 keeps its 1.5em.
    assert seen["titleSize"] == "20px"
    assert seen["titleMargin"] == "12px"
    assert seen["outsideSize"] == "24px"
    assert seen["display"] == "block"
    assert seen["headings"] == ["Payouts", "Payouts of the other team"]
    assert seen["labelledBy"] == "cp-title"
