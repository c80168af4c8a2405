#!/usr/bin/env bash
# Both sides of every chapter's exercises:
#   - on the solutions, the exercise tests pass;
#   - on the stubs (`--features exercises`), the crate compiles and exactly the exercise
#     tests fail — all of them, since every stub is unfilled (an exercise whose test passes
#     on a stub tests nothing), and no other test.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
for manifest in chapters/*/Cargo.toml; do
    grep -q '^exercises *= *\[' "$manifest" || continue
    dir=$(dirname "$manifest")
    crate=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)
    expected=$(grep -c '^fn exercise_' "$dir/tests/exercises.rs")

    if ! cargo test -q -p "$crate" --test exercises >/tmp/exercises-solutions.log 2>&1; then
        cat /tmp/exercises-solutions.log
        echo "FAIL $crate: the solutions do not pass their exercise tests"
        status=1
        continue
    fi

    log=$(cargo test -p "$crate" --features exercises --no-fail-fast 2>&1 || true)
    if ! grep -q "Running tests/exercises.rs" <<<"$log"; then
        echo "$log" | tail -n 40
        echo "FAIL $crate: the stubs do not compile"
        status=1
        continue
    fi
    failed=$(grep -E '^test .* FAILED$' <<<"$log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' | sort -u)
    n_failed=$(grep -c . <<<"$failed" || true)
    others=$(grep -v '^exercise_' <<<"$failed" || true)
    if [ -n "$others" ]; then
        echo "FAIL $crate: with the stubs, tests other than the exercises fail: $others"
        status=1
    elif [ "$n_failed" -ne "$expected" ]; then
        echo "FAIL $crate: $expected exercise tests, but only $n_failed fail on the stubs:"
        echo "$failed"
        status=1
    else
        echo "ok   $crate: $expected exercises pass on the solutions and fail on the stubs"
    fi
done
exit $status
