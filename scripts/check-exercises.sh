#!/usr/bin/env bash
# Both sides of every chapter's exercises:
#   - on the solutions, the exercise tests pass;
#   - on the stubs (each chapter's `exercises` feature), everything compiles and exactly the
#     exercise tests fail — all of them, since every stub is unfilled (an exercise whose test
#     passes on a stub tests nothing), and no other test.
# Both runs select the whole workspace, so dependencies keep the features of a plain
# `cargo test` and are not rebuilt (selecting only the chapters with `-p` unifies features
# over fewer packages and rebuilds most of the tree). The stub run skips the end-to-end
# pipeline test: the `exercises` feature changes nothing but each chapter's `ex` module,
# which only the chapter's tests call, so the pipeline would run exactly what `cargo test`
# ran before (5 of the step's minutes).
set -euo pipefail
cd "$(dirname "$0")/.."

features=()
declare -A exercises_of
for manifest in chapters/*/Cargo.toml; do
    grep -q '^exercises *= *\[' "$manifest" || continue
    dir=$(dirname "$manifest")
    crate=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)
    features+=("$crate/exercises")
    exercises_of[$crate]=$(sed -n 's/^fn \(exercise_[a-z0-9_]*\)().*/\1/p' "$dir/tests/exercises.rs" | sort)
done
[ ${#features[@]} -gt 0 ] || { echo "no chapter has exercises"; exit 0; }

if ! cargo test -q --workspace --test exercises >/tmp/exercises-solutions.log 2>&1; then
    cat /tmp/exercises-solutions.log
    echo "FAIL: the solutions do not pass their exercise tests"
    exit 1
fi

log=$(cargo test --workspace --no-fail-fast --features "$(IFS=,; echo "${features[*]}")" \
    -- --skip pipeline_writes_every_stage_and_a_report 2>&1 || true)
if grep -q "^error\(\[E[0-9]*\]\)\?: " <<<"$log" && ! grep -q "test result" <<<"$log"; then
    echo "$log" | grep -A 12 "^error" | head -n 60
    echo "FAIL: the stubs do not compile"
    exit 1
fi
failed=$(grep -E '^test .* FAILED$' <<<"$log" | sed -E 's/^test (.*) \.\.\. FAILED$/\1/' | sort -u)

status=0
others=$(grep -v '^exercise_' <<<"$failed" || true)
if [ -n "$others" ]; then
    echo "FAIL: with the stubs, tests other than the exercises fail:"
    echo "$others"
    status=1
fi
for crate in "${!exercises_of[@]}"; do
    expected=${exercises_of[$crate]}
    missing=$(comm -23 <(echo "$expected") <(echo "$failed"))
    n=$(grep -c . <<<"$expected")
    if [ -n "$missing" ]; then
        echo "FAIL $crate: these exercise tests pass on the stubs, so they test nothing:"
        echo "$missing"
        status=1
    else
        echo "ok   $crate: $n exercises pass on the solutions and fail on the stubs"
    fi
done
exit $status
