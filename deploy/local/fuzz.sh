#!/usr/bin/env bash
# Every fuzz target of fuzz/ for a bounded time, on the machine's stable toolchain:
# cargo-fuzz in its `--sanitizer none` mode (libFuzzer with coverage guidance, without
# the sanitizers that need nightly). Each target starts from the committed seeds of
# fuzz/seeds/<target> and a scratch corpus (fuzz/corpus/<target>, ignored by git, named
# first so that new inputs go there and not into the seeds). A crash fails the run and
# leaves its input in fuzz/artifacts/<target>/.
#
#   bash deploy/local/fuzz.sh                 # 10 s per target, unoptimised (CI)
#   FUZZ_SECONDS=300 FUZZ_PROFILE=release bash deploy/local/fuzz.sh
#   FUZZ_CHECK_SEEDS=1 bash deploy/local/fuzz.sh   # first check that the seeds reach the
#                                                  # targets' deep paths (a debug build of
#                                                  # fuzz/, ~2 min more)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${FUZZ_SECONDS:-10}"
# unoptimised by default: the build is most of CI's fuzzing time, and a few seconds of
# unoptimised runs still reach the seeds' deep paths; FUZZ_PROFILE=release for long runs
case "${FUZZ_PROFILE:-dev}" in
    dev) profile="--dev" ;;
    release) profile="--release" ;;
    *) echo "fuzz: FUZZ_PROFILE is dev or release" >&2; exit 2 ;;
esac
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz (cargo install)"
    cargo install cargo-fuzz --locked --quiet
fi
# the seeds load, parse and verify as the targets expect
if [ -n "${FUZZ_CHECK_SEEDS:-}" ]; then
    cargo test --manifest-path fuzz/Cargo.toml --locked --quiet
fi
# each target is built by its run (`cargo fuzz build` would also instrument src/bin/make_seeds)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for target in $(cargo fuzz list); do
    mkdir -p "fuzz/corpus/$target"
    rm -rf "fuzz/artifacts/$target"
    if ! cargo fuzz run --sanitizer none $profile "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$secs" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        tail -60 "$log" >&2
        echo "fuzz: $target failed; a crashing input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    new=$(grep -m1 -o 'stat::new_units_added: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz: $target: ${secs} s, $runs runs, $new new inputs, no crash"
done
