# Sourced by ch07-figures.sh and ch08-figures.sh: what both do around their own runs.

# Fail unless RUN is a finished pipeline run (it has a reward model).
need_run() {
    [ -d "$1/reward/checkpoint" ] || { echo "$1 has no reward model: run the pipeline first (cargo run --release)" >&2; exit 1; }
}

# Record in OUT/MADE_WITH the world of RUN and the commit that made the figures.
made_with() {
    local run=$1 out=$2 seed
    seed=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['config']['seed'])" "$run/world/world.json" 2>/dev/null || echo '?')
    echo "world $seed, commit $(git rev-parse --short HEAD)" > "$out/MADE_WITH"
}
