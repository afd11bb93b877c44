"""A moderator in headless Chromium: sign in with the token, then 受理 → 解决 → 回访;
a moderator account sees and acts on its own communities only.

Needs ``pipeline/console/install-browser.sh`` (Debian chromium, chromium-driver)
and the ``selenium`` package; leaves ``var/screenshots/console.png``.
"""

from __future__ import annotations

from console_harness import LI_TOKEN, TOKEN, RunningConsole
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.browser_support import SCREENSHOTS, submit, wait_for_text


def test_moderator_closes_the_loop_in_the_browser(browser: webdriver.Chrome,
                                                  console: RunningConsole) -> None:
    browser.get(f"{console.url}/console?token={TOKEN}")
    wait_for_text(browser, "h1", "待处理告警")
    assert browser.current_url == f"{console.url}/console"     # token gone from the URL
    rows = browser.find_elements(By.CSS_SELECTOR, "#open-alerts tbody tr")
    assert [r.get_attribute("data-incident") for r in rows] == [
        "inc-severe", "inc-moderate", "inc-mild"]
    top = rows[0]
    assert "重度" in top.find_element(By.CSS_SELECTOR, ".badge").text
    assert "overdue" in top.find_element(By.CSS_SELECTOR, "[data-deadline=respond]").text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOTS / "console.png"))

    top.find_element(By.CSS_SELECTOR, "a.open").click()
    wait_for_text(browser, "h1", "wx-crisis")
    submit(browser, "acknowledge", "王小明", "已联系群主，正在核实")
    wait_for_text(browser, "#flash", "已生效")
    assert "已受理" in browser.find_element(By.CSS_SELECTOR, "h1 .status").text
    assert "王小明" in browser.find_element(By.ID, "timeline").text
    assert not browser.find_element(By.ID, "acknowledge-actor").is_enabled()
    assert browser.find_element(By.ID, "resolve-actor").get_attribute("value") == "王小明"

    submit(browser, "resolve", None, "已退款并致歉")
    wait_for_text(browser, "h1 .status", "已解决")
    submit(browser, "follow_up", "韩梅梅", "回访：用户表示满意")
    wait_for_text(browser, "h1 .status", "已回访")
    timeline = browser.find_element(By.ID, "timeline").text
    assert "王小明" in timeline and "韩梅梅" in timeline
    assert browser.find_elements(By.CSS_SELECTOR, "input[name=actor]:enabled") == []
    browser.save_screenshot(str(SCREENSHOTS / "console-detail.png"))
    assert [c.kind for c in console.sender.sent] == ["acknowledge", "resolve", "follow_up"]

    browser.find_element(By.CSS_SELECTOR, "header a").click()
    wait_for_text(browser, "h1", "待处理告警")
    open_rows = browser.find_elements(By.CSS_SELECTOR, "#open-alerts tbody tr")
    assert [r.get_attribute("data-incident") for r in open_rows] == ["inc-moderate", "inc-mild"]
    assert "wx-crisis" in browser.find_element(By.TAG_NAME, "main").text   # recently closed


def test_a_moderator_account_sees_only_its_communities(browser: webdriver.Chrome,
                                                       graded: RunningConsole) -> None:
    browser.get(f"{graded.url}/console?token={LI_TOKEN}")
    wait_for_text(browser, "h1", "待处理告警")
    assert "li-lei" in browser.find_element(By.ID, "whoami").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#open-alerts tbody tr")
    assert [r.get_attribute("data-incident") for r in rows] == [
        "inc-moderate", "inc-mild", "inc-spread"]

    browser.get(f"{graded.url}/console/alerts/inc-severe")     # typed in: another's incident
    wait_for_text(browser, "h1", "Not permitted")
    assert "not assigned to li-lei" in browser.find_element(By.ID, "message").text
    browser.get(f"{graded.url}/console/alerts/inc-spread")     # spread into qq-fans: read only
    wait_for_text(browser, "#read-only", "not assigned to you")
    assert browser.find_elements(By.CSS_SELECTOR, "form") == []

    browser.get(f"{graded.url}/console/alerts/inc-mild")
    wait_for_text(browser, "h1", "qq-fans")
    assert browser.find_elements(By.NAME, "actor") == []       # acts under its own name
    submit(browser, "acknowledge", None, "已联系群主")
    wait_for_text(browser, "#flash", "已生效")
    assert "li-lei" in browser.find_element(By.ID, "timeline").text
    browser.save_screenshot(str(SCREENSHOTS / "console-moderator.png"))
    assert [(c.actor, c.incident_id) for c in graded.sender.sent] == [("li-lei", "inc-mild")]
