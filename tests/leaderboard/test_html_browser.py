"""leaderboard/index.html in a real browser: headless Chromium driven over the DevTools pipe.

The page is generated from reported.csv into the pytest tmp dir and loaded from
disk (file://). The test clicks a dataset tab and a column header, checks the
rendered text and order, and saves a screenshot. It talks the Chrome DevTools
protocol over ``--remote-debugging-pipe`` (fds 3 and 4, NUL-terminated JSON),
so it needs no PyPI package and opens no port. Skipped only when chromium is not
installed (``bash tools/install_test_deps.sh`` installs it).
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import struct
import subprocess
import time
from pathlib import Path

import pytest

from crbench.leaderboard import load_reported, model_display, write_leaderboard

REPO = Path(__file__).resolve().parents[2]
REPORTED = REPO / 'leaderboard' / 'reported.csv'
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason='chromium is not installed (bash tools/install_test_deps.sh, or apt-get install '
           'chromium)')


class DevToolsPipe:
    """Minimal Chrome DevTools protocol client over --remote-debugging-pipe."""

    def __init__(self, user_data_dir: Path, width: int = 1280, height: int = 900):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def child_fds():  # chromium reads commands on fd 3 and writes replies on fd 4
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu',
             '--disable-background-networking', '--disable-component-update', '--disable-sync',
             '--no-first-run', '--no-default-browser-check', '--disable-extensions',
             f'--user-data-dir={user_data_dir}', '--remote-debugging-pipe',
             f'--window-size={width},{height}', 'about:blank'],
            pass_fds=(3, 4), preexec_fn=child_fds, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b''
        self._id = 0
        self.events: list[dict] = []
        self.session = None

    def send(self, method: str, params: dict | None = None, session: bool = True,
             timeout: float = 30.0) -> dict:
        self._id += 1
        msg = {'id': self._id, 'method': method, 'params': params or {}}
        if session and self.session:
            msg['sessionId'] = self.session
        os.write(self._to_chrome, json.dumps(msg).encode() + b'\0')
        deadline = time.monotonic() + timeout
        while True:
            while b'\0' in self._buf:
                raw, self._buf = self._buf.split(b'\0', 1)
                reply = json.loads(raw)
                if reply.get('id') == self._id:
                    if 'error' in reply:
                        raise RuntimeError(f'{method}: {reply["error"]}')
                    return reply.get('result', {})
                if 'method' in reply:
                    self.events.append(reply)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise TimeoutError(f'{method}: no reply from chromium in {timeout} s')
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise EOFError(f'chromium closed the pipe: {self.stderr_tail()}')
            self._buf += chunk

    def wait_event(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev['method'] == method:
                    self.events.remove(ev)
                    return ev
            if time.monotonic() > deadline:
                raise TimeoutError(f'no {method} event in {timeout} s')
            self.send('Runtime.evaluate', {'expression': '0'})  # pumps pending events

    def attach_page(self) -> None:
        targets = self.send('Target.getTargets', session=False)['targetInfos']
        page = next(t for t in targets if t['type'] == 'page')
        self.session = self.send('Target.attachToTarget',
                                 {'targetId': page['targetId'], 'flatten': True},
                                 session=False)['sessionId']

    def js(self, expression: str):
        res = self.send('Runtime.evaluate', {'expression': expression, 'returnByValue': True,
                                             'awaitPromise': True})
        if 'exceptionDetails' in res:
            raise RuntimeError(f'{expression!r} threw: {res["exceptionDetails"]}')
        return res['result'].get('value')

    def stderr_tail(self) -> str:
        try:
            self.proc.kill()
            return self.proc.stderr.read().decode(errors='replace')[-2000:]
        except Exception:  # noqa: BLE001
            return ''

    def close(self) -> None:
        try:
            self.send('Browser.close', session=False, timeout=5)
        except Exception:  # noqa: BLE001
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.stderr.close()


@pytest.fixture
def browser(tmp_path):
    b = DevToolsPipe(tmp_path / 'chromium-profile')
    try:
        yield b
    finally:
        b.close()


# JavaScript helpers evaluated in the page
ACTIVE_PANELS = ("Array.from(document.querySelectorAll('section.panel'))"
                 ".filter(s => getComputedStyle(s).display !== 'none').map(s => s.id)")


def column_js(panel: str, header_prefix: str) -> str:
    """Rows of the panel's table as [model, row label, data-v, text] of one column."""
    return f"""(() => {{
        const t = document.querySelector('#{panel} table');
        const ths = Array.from(t.tHead.rows[0].cells);
        const i = ths.findIndex(h => h.textContent.startsWith('{header_prefix}'));
        return Array.from(t.tBodies[0].rows).map(r =>
            [r.cells[0].innerText, r.cells[1].innerText, r.cells[i].dataset.v,
             r.cells[i].innerText]);
    }})()"""


def click_header_js(panel: str, header_prefix: str) -> str:
    return f"""(() => {{
        const t = document.querySelector('#{panel} table');
        Array.from(t.tHead.rows[0].cells)
            .find(h => h.textContent.startsWith('{header_prefix}')).click();
        return true;
    }})()"""


def test_tabs_sorting_and_screenshot(tmp_path, browser):
    start = time.monotonic()
    out = tmp_path / 'site'
    write_leaderboard(tmp_path / 'no-results', REPORTED, out)
    page = (out / 'index.html').resolve()

    browser.attach_page()
    browser.send('Runtime.enable')
    browser.send('Page.enable')
    browser.send('Emulation.setDeviceMetricsOverride',
                 {'width': 1280, 'height': 900, 'deviceScaleFactor': 1, 'mobile': False})
    browser.send('Page.navigate', {'url': page.as_uri()})
    browser.wait_event('Page.loadEventFired')
    assert browser.js('location.href') == page.as_uri()
    assert browser.js('document.title') == 'crbench leaderboard'

    # first dataset tab is shown on load, only that one
    assert browser.js(ACTIVE_PANELS) == ['ds-cuhk-cr1']
    tabs = browser.js("Array.from(document.querySelectorAll('.tabs button'))"
                      ".map(b => b.innerText)")
    assert tabs[:6] == ['CUHK-CR1', 'CUHK-CR2', 'RICE1', 'RICE2', 'SEN12MS-CR', 'Sen2_MTC_New']

    # switch to CUHK-CR2 by clicking its tab
    browser.js("document.querySelector('.tabs button[data-target=\"ds-cuhk-cr2\"]').click()")
    assert browser.js(ACTIVE_PANELS) == ['ds-cuhk-cr2']
    assert browser.js("document.querySelector('.tabs button.active').innerText") == 'CUHK-CR2'
    visible = browser.js("document.querySelector('#ds-cuhk-cr2 h2').innerText")
    assert visible == 'CUHK-CR2'
    assert browser.js("document.querySelector('#ds-cuhk-cr1').offsetHeight") == 0

    # expected from reported.csv: PSNR values of CUHK-CR2 (official protocol rows)
    rep = load_reported(REPORTED)
    cr2 = rep[(rep.dataset == 'CUHK-CR2') & (rep.metric == 'PSNR')]
    best = cr2.loc[cr2.value.idxmax()]
    worst = cr2.loc[cr2.value.idxmin()]

    # sort by PSNR: first click ascending, second descending; gaps stay at the bottom
    browser.js(click_header_js('ds-cuhk-cr2', 'PSNR'))
    rows = browser.js(column_js('ds-cuhk-cr2', 'PSNR'))
    vals = [float(v) for _, _, v, _ in rows if v]
    assert vals == sorted(vals) and len(vals) == len(cr2)
    assert all(not v for _, _, v, _ in rows[len(vals):])
    assert rows[0][0] == model_display(worst.model) and rows[0][3] == worst.value_text
    browser.js(click_header_js('ds-cuhk-cr2', 'PSNR'))
    rows = browser.js(column_js('ds-cuhk-cr2', 'PSNR'))
    vals = [float(v) for _, _, v, _ in rows if v]
    assert vals == sorted(vals, reverse=True)
    assert rows[0][0] == model_display(best.model)
    assert rows[0][3] == best.value_text  # rendered text, bold for the best of the column
    assert browser.js("document.querySelector('#ds-cuhk-cr2 tbody tr td.num b').innerText") \
        == best.value_text
    assert rows[-1][1] == 'reproduced' and rows[-1][3] == '—'  # a gap row is last

    # sorting by a text column (Model) works too and keeps every row
    browser.js(click_header_js('ds-cuhk-cr2', 'Model'))
    models = [r[0] for r in browser.js(column_js('ds-cuhk-cr2', 'PSNR'))]
    assert len(models) == len(rows)
    assert models == browser.js(f'{json.dumps(models)}.slice().sort((a, b) => '
                                'a.localeCompare(b))')
    assert models[0] != models[-1]
    assert browser.js("document.querySelector('#ds-cuhk-cr2 th[data-dir]').textContent") \
        == 'Model'

    # no script error during the whole session
    errors = [e for e in browser.events if e['method'] == 'Runtime.exceptionThrown']
    assert not errors, errors

    # screenshot of the sorted CUHK-CR2 tab
    shot = base64.b64decode(browser.send('Page.captureScreenshot', {'format': 'png'})['data'])
    path = tmp_path / 'leaderboard_cuhk-cr2.png'
    path.write_bytes(shot)
    assert shot[:8] == b'\x89PNG\r\n\x1a\n'
    width, height = struct.unpack('>II', shot[16:24])
    assert (width, height) == (1280, 900) and len(shot) > 20_000
    assert time.monotonic() - start < 60
