#!/usr/bin/env python3
"""Plays the person who got a notice: opens the "Keep my license" link in a real headless
Chromium (Debian's chromium + chromium-driver, through WebDriver), checks what the page says,
types a reason, presses the button and waits for the confirmation.

    keep-browser.py URL --expect TEXT [--expect TEXT ...] [--reason TEXT]
                    [--shot-page FILE] [--shot-done FILE]

Prints the confirmation's text (the element `#kept`) and exits 0; on anything unexpected it
prints what the page showed and exits 1. It never reads the database: the caller checks that the
keep landed in the table, so the browser and the store are verified independently.
"""
import argparse
import sys
import tempfile

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

# The flags this machine needs: no sandbox as root, and no background traffic (the network is
# closed; without them Chromium retries Google's hosts at every start).
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1000,900",
]


def fail(msg, driver=None):
    print(f"keep-browser: {msg}", file=sys.stderr)
    if driver is not None:
        try:
            print(driver.find_element(By.TAG_NAME, "body").text, file=sys.stderr)
        except WebDriverException:
            pass
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url")
    ap.add_argument("--expect", action="append", default=[], help="text the page must show")
    ap.add_argument("--reason", default="")
    ap.add_argument("--shot-page")
    ap.add_argument("--shot-done")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    a = ap.parse_args()

    opts = webdriver.ChromeOptions()
    opts.binary_location = a.chromium
    profile = tempfile.TemporaryDirectory(prefix="keep-browser-")
    for f in FLAGS + [f"--user-data-dir={profile.name}"]:
        opts.add_argument(f)
    try:
        # an explicit driver path: Selenium Manager (which would download one) never runs
        driver = webdriver.Chrome(service=Service(executable_path=a.chromedriver), options=opts)
    except WebDriverException as e:
        fail(f"could not start chromium through {a.chromedriver}: {e.msg} (infra/setup.sh installs chromium and chromium-driver)")
    try:
        driver.set_page_load_timeout(60)
        driver.get(a.url)
        body = driver.find_element(By.TAG_NAME, "body").text
        for text in a.expect:
            if text not in body:
                fail(f"the keep page does not show {text!r}", driver)
        buttons = driver.find_elements(By.ID, "keep")
        if not buttons:
            fail("the keep page has no #keep button", driver)
        if a.shot_page:
            driver.save_screenshot(a.shot_page)
        if a.reason:
            driver.find_element(By.ID, "reason").send_keys(a.reason)
        buttons[0].click()
        try:
            done = WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.ID, "kept")))
        except WebDriverException:
            fail("no confirmation (#kept) after pressing the button", driver)
        if a.shot_done:
            driver.save_screenshot(a.shot_done)
        print(done.text)
    finally:
        driver.quit()
        profile.cleanup()


if __name__ == "__main__":
    main()
