#!/usr/bin/env bash
# report.html in a real browser: a small sweep (the quickstart's axes, 6 runs per point),
# `cascade report`, then headless Chromium loads the page from disk with the network off and
# we check what its script wrote on <body>: every chart drawn in the page, no script error, no
# horizontal scroll at 1,400 px; Chromium's console log must hold no message from the page. A
# screenshot 1,400 px wide is saved in the store (report-1400.png).
#
#   bash scripts/report-browser.sh [OUT_DIR]      # default: a temporary directory, removed
#
# CASCADE_BIN: a cascade binary to use (default: built here with --profile ci).
# CHROMIUM: the browser (default: chromium, chromium-browser or google-chrome on PATH; when
# none is there and we run as root, the distribution's chromium is installed with apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "report-browser: FAIL: $*" >&2; exit 1; }
start=$(date +%s)

if [ -n "${CASCADE_BIN:-}" ]; then
  bin=$CASCADE_BIN
else
  cargo build --profile ci -p cascade-cli
  bin=${CARGO_TARGET_DIR:-target}/ci/cascade
fi
[ -x "$bin" ] || fail "no cascade binary at $bin"

browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
  done
fi
if [ -z "$browser" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "report-browser: installing chromium from the distribution"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    browser=chromium
  else
    fail "no Chromium found (chromium, chromium-browser, google-chrome); install one or set CHROMIUM"
  fi
fi

if [ -n "${1:-}" ]; then
  work=$1
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
store=$work/store
rm -rf "$store" "$work/profile"

# The quickstart sweep with fewer runs (same axes, baseline and seed).
scen=$(cd configs/scenarios && pwd)/gen1.toml
sed -e "s|^scenario = .*|scenario = \"$scen\"|" -e 's/^runs = .*/runs = 6/' \
  configs/sweeps/quickstart.toml > "$work/sweep.toml"
"$bin" sweep "$work/sweep.toml" --out "$store" > "$work/sweep.out" 2>&1 || { cat "$work/sweep.out"; fail "sweep"; }
"$bin" report "$store" > "$work/report.out" 2>&1 || { cat "$work/report.out"; fail "cascade report"; }
page=$store/report.html
[ -s "$page" ] || fail "no report.html"

# Headless Chromium, no network (a proxy that does not exist), a fresh profile.
chrome() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/profile" --no-first-run --disable-extensions \
    --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' \
    --enable-logging=stderr --v=0 --virtual-time-budget=10000 "$@"
}
t0=$(date +%s)
chrome --window-size=1400,1000 --dump-dom "file://$page" > "$work/dom.html" 2> "$work/chrome.log" \
  || { tail -20 "$work/chrome.log"; fail "chromium could not load the page"; }
t1=$(date +%s)
attr() { grep -o "<body[^>]*>" "$work/dom.html" | grep -o "data-$1=\"[^\"]*\"" | head -1 | cut -d'"' -f2; }
expected=$(attr charts-expected)
rendered=$(attr charts-rendered)
errors=$(attr errors)
hscroll=$(attr hscroll)
height=$(attr height)
[ -n "$expected" ] || { tail -20 "$work/chrome.log"; fail "the page's script did not run (no data-charts-expected on <body>)"; }
[ "$expected" -ge 5 ] || fail "only $expected charts in the report"
if [ "$errors" != "0" ]; then
  sed -n '/id="report-errors"/,/<\/pre>/p' "$work/dom.html" >&2
  fail "$errors script error(s) in the page"
fi
[ "$rendered" = "$expected" ] || fail "$rendered of $expected charts drawn in the page"
lives=$(grep -o 'class="fig live"' "$work/dom.html" | wc -l)
[ "$lives" -eq "$expected" ] || fail "$lives of $expected figures switched to their interactive chart"
canvases=$(grep -o '<canvas' "$work/dom.html" | wc -l)
[ "$canvases" -ge "$expected" ] || fail "only $canvases canvases for $expected charts"
[ "$hscroll" = "0" ] || fail "the page scrolls sideways at 1,400 px"
# The page writes nothing to the console: any message there (Chromium logs them all as
# INFO:CONSOLE) is a failure, an uncaught exception included.
if grep -q ':CONSOLE' "$work/chrome.log"; then
  grep ':CONSOLE' "$work/chrome.log" >&2
  fail "console messages from the page"
fi
grep -q 'id="toc"' "$work/dom.html" || fail "no table of contents"

# The whole page, 1,400 px wide.
h=$(( height > 16000 ? 16000 : (height < 800 ? 800 : height) ))
chrome --window-size=1400,"$h" --screenshot="$store/report-1400.png" "file://$page" 2>> "$work/chrome.log" >/dev/null \
  || fail "screenshot"
[ -s "$store/report-1400.png" ] || fail "no screenshot"
end=$(date +%s)
size=$(wc -c < "$page")
echo "report-browser: ok: $rendered/$expected charts drawn, no errors, no sideways scroll at 1400 px; report.html $size bytes, $height px tall; page load $((t1 - t0)) s, whole check $((end - start)) s; screenshot $store/report-1400.png"
