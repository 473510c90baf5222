#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine, skipping what is there:
# a C toolchain (onig and candle's build scripts), Python with pip and venv (fixtures come from
# PyPI; the test environment has the openai client and llama-cpp-python),
# the desktop shell's libraries (WebKitGTK 4.1) and Node.js for its UI, Xvfb and WebKit's
# WebDriver for the end-to-end tests, and Rust through rustup when cargo is missing.
set -euo pipefail
need=()
command -v cc >/dev/null || need+=(build-essential)
command -v curl >/dev/null || need+=(curl ca-certificates)
command -v python3 >/dev/null || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
command -v pkg-config >/dev/null || need+=(pkg-config)
pkg-config --exists webkit2gtk-4.1 2>/dev/null || need+=(libwebkit2gtk-4.1-dev librsvg2-dev libssl-dev)
command -v npm >/dev/null || need+=(nodejs npm)
command -v xvfb-run >/dev/null || need+=(xvfb xauth)
command -v WebKitWebDriver >/dev/null || need+=(webkit2gtk-driver)
command -v import >/dev/null || need+=(imagemagick)
command -v chromium >/dev/null || need+=(chromium)
# The presets' icons are emoji and the UI speaks Chinese: fonts for both.
fc-list 2>/dev/null | grep -qi "emoji" || need+=(fonts-noto-color-emoji)
# Noto Sans CJK (SIL OFL) is also the font PDF reports embed.
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
command -v pdftotext >/dev/null || need+=(poppler-utils)
# Scanned pages are read by OCR: Tesseract with English and simplified Chinese.
command -v tesseract >/dev/null || need+=(tesseract-ocr)
[ -n "$(ls /usr/share/tesseract-ocr/*/tessdata/eng.traineddata 2>/dev/null)" ] || need+=(tesseract-ocr-eng)
[ -n "$(ls /usr/share/tesseract-ocr/*/tessdata/chi_sim.traineddata 2>/dev/null)" ] || need+=(tesseract-ocr-chi-sim)
# The .deb's test: its desktop entry checked, its window found.
command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
command -v xwininfo >/dev/null || need+=(x11-utils)
command -v update-mime-database >/dev/null || need+=(shared-mime-info)
# The start-up CPU check's test runs the binaries on an emulated CPU without AVX2.
command -v qemu-x86_64 >/dev/null || need+=(qemu-user)
# The kernel tests also run as aarch64 code under qemu-aarch64 (scripts/test-aarch64.sh).
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
# API keys go to the OS keychain: its test runs gnome-keyring's Secret Service on a private
# D-Bus session and reads it back with libsecret's tool.
# Without recommends, and with dbus-user-session as the session bus: dbus-x11 would make libdbus
# autolaunch a bus (and gnome-keyring's unlock prompt) on the tests' X display.
keyring=()
command -v gnome-keyring-daemon >/dev/null || keyring+=(gnome-keyring dbus-user-session)
command -v secret-tool >/dev/null || keyring+=(libsecret-tools)
command -v dbus-run-session >/dev/null || keyring+=(dbus-daemon)
if [ ${#need[@]} -gt 0 ] || [ ${#keyring[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  [ ${#need[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
  [ ${#keyring[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${keyring[@]}"
fi
if ! command -v cargo >/dev/null; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then :; else
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  fi
fi
# The test command checks formatting and lints: rustfmt and clippy (not in rustup's minimal
# profile).
export PATH="$HOME/.cargo/bin:$PATH"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
