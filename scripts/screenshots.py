#!/usr/bin/env python3
"""Takes the README's screenshots from the real window under Xvfb, driven through tauri-driver:
the presets, the calculation preset's form, an answer streaming and finished, the conversation
after a restart, and the Chinese UI. Needs the app built (scripts/run.sh or test.sh does that),
Xvfb, tauri-driver, WebKitWebDriver and ImageMagick's `import`.
Usage: scripts/screenshots.py MODEL.gguf OUT_DIR [TARGET_DIR]"""
import json, os, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

model, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
target = Path(sys.argv[3] if len(sys.argv) > 3 else os.environ.get("CARGO_TARGET_DIR", "target")).resolve()
app = target / "debug" / "fin-r1-desktop"
out.mkdir(parents=True, exist_ok=True)
display, port = ":77", 4477
data = tempfile.mkdtemp(prefix="fin-r1-shots-")
env = dict(os.environ, DISPLAY=display, WEBKIT_DISABLE_COMPOSITING_MODE="1", FIN_R1_DATA_DIR=data, FIN_R1_MODEL=str(model))
xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x820x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
time.sleep(1)
driver = subprocess.Popen([os.path.expanduser("~/.cargo/bin/tauri-driver"), "--port", str(port), "--native-port", str(port + 1)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"

def call(method, path, body=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=300))["value"]

def session():
    for _ in range(60):
        try:
            return call("POST", "/session", {"capabilities": {"alwaysMatch": {"tauri:options": {"application": str(app)}}}})["sessionId"]
        except Exception:
            time.sleep(1)
    raise SystemExit("no WebDriver session")

def js(sid, code):
    return call("POST", f"/session/{sid}/execute/sync", {"script": code, "args": []})

def wait(sid, code, timeout=300):
    end = time.time() + timeout
    while time.time() < end:
        if js(sid, code):
            return
        time.sleep(0.3)
    raise SystemExit(f"timed out: {code}")

def shot(name):
    time.sleep(0.6)
    subprocess.run(["import", "-display", display, "-window", "root", str(out / name)], check=True)
    print(out / name)

def type_into(sid, css, text):
    e = call("POST", f"/session/{sid}/element", {"using": "css selector", "value": css})
    eid = list(e.values())[0]
    call("POST", f"/session/{sid}/element/{eid}/value", {"text": text})

try:
    sid = session()
    # A fresh data folder starts with the first-run setup: skip it (the tests walk it).
    wait(sid, "return !!document.querySelector('#fr-skip')")
    js(sid, "document.querySelector('#fr-skip').click()")
    wait(sid, "return !document.querySelector('#first-run')")
    wait(sid, "return document.querySelector('#model-current')?.innerText.includes('.gguf')")
    shot("presets.png")
    js(sid, "document.querySelector('#scenario-calculation').click()")
    wait(sid, "return !!document.querySelector('.starter')")
    js(sid, "document.querySelector('.starter').click()")
    type_into(sid, "input[name=rate]", "5")
    type_into(sid, "input[name=term]", "2 years, compounded annually")
    shot("calculation-preset.png")
    js(sid, "document.querySelector('#send').click()")
    wait(sid, "const e = document.querySelector('.status-streaming .answer-body'); return e && e.innerText.split(/\\s+/).length > 25")
    shot("streaming.png")
    wait(sid, "return !!document.querySelector('#send')", 600)
    shot("answer.png")
    call("DELETE", f"/session/{sid}")
    sid = session()
    wait(sid, "return !!document.querySelector('.item-title')")
    js(sid, "document.querySelector('.item-title').click()")
    wait(sid, "return !!document.querySelector('.msg.answer')")
    shot("after-restart.png")
    js(sid, "document.querySelector('#lang').click()")
    wait(sid, "return document.querySelector('#new-chat').innerText.includes('新对话')")
    shot("chinese.png")
    js(sid, "document.querySelector('#new-chat').click()")
    wait(sid, "return !!document.querySelector('#scenario-calculation')")
    shot("chinese-presets.png")
    # The sampling panel of the open conversation: a value out of range is refused in words.
    js(sid, "document.querySelector('#lang').click()")
    js(sid, "document.querySelector('.item-title').click()")
    wait(sid, "return !!document.querySelector('.msg.answer')")
    js(sid, "document.querySelector('#sampling-toggle').click()")
    wait(sid, "return !!document.querySelector('.sampling input[name=temperature]')")
    js(sid, "const e = document.querySelector('.sampling input[name=temperature]'); e.value = '5'; e.dispatchEvent(new Event('change', {bubbles: true}))")
    wait(sid, "return !!document.querySelector('#sampling-error')", 30)
    shot("sampling-refused.png")
    js(sid, "const e = document.querySelector('.sampling input[name=temperature]'); e.value = '0.2'; e.dispatchEvent(new Event('change', {bubbles: true}))")
    time.sleep(1)
    shot("sampling-kept.png")
    js(sid, "document.querySelector('#nav-settings').click()")
    wait(sid, "return !!document.querySelector('#secrets-vault')")
    js(sid, "document.querySelector('#secrets-vault').scrollIntoView()")
    shot("settings-keys.png")
    call("DELETE", f"/session/{sid}")
finally:
    driver.terminate()
    xvfb.terminate()
