#!/bin/sh
# Runs each target in turn (one at a time: this machine has 2 shared cores) until 10 million
# executions or the time cap, and keeps its fuzzer_stats in out/<target>.stats.
set -u
cap=${CAP:-360}
for target in ${TARGETS:-handshake header frame validate switchboard recovery redis_message}; do
  AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_AUTORESUME=1 \
    cargo afl fuzz -i corpus/$target -o out/$target -E 10000000 -V $cap \
    target/release/$target > out/$target.log 2>&1
  cp out/$target/default/fuzzer_stats out/$target.stats
  grep -E "run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg" out/$target.stats | sed "s/^/$target: /"
done
