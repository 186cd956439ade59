#!/bin/sh
# Verify test/spin/epoch.pml with spin.
#   check.sh          the model: no assertion violation (a reader never
#                     dereferences a freed set, a guest never reaches a
#                     reused frame through a stale TLB entry) and no
#                     acceptance cycle for
#                     [] (in_gp -> <> !in_gp) under weak fairness (every grace
#                     period ends). Exit 0 when both hold.
#   check.sh broken   each deliberately broken variant must be caught; exit 0
#                     when every one of them is.
#   MAXGP=N           grace periods the writer runs (default 3; the state
#                     space grows quickly: 4 takes ~45 s, 5 a few minutes)
set -eu
maxgp=${MAXGP:-3}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/epoch.pml" "$work/"
cd "$work"

# verify MODE [DEFINE]: prints pan's summary, returns 0 when pan found no error
verify() {
    mode=$1; def=${2:-}
    extra=""
    [ "$mode" = liveness ] && extra=-DNO_TLB_MODEL
    spin -a -DMAXGP=$maxgp $extra $def epoch.pml >spin.log 2>&1 || { cat spin.log; return 2; }
    if grep -qi "error" spin.log; then cat spin.log; return 2; fi
    if [ "$mode" = safety ]; then
        gcc -O2 -DSAFETY -DNOCLAIM -DCOLLAPSE -o pan pan.c 2>gcc.log || { cat gcc.log; return 2; }
        ./pan -m100000 >pan.out 2>&1 || true
    else
        gcc -O2 -DNFAIR=4 -o pan pan.c 2>gcc.log || { cat gcc.log; return 2; }
        ./pan -m100000 -a -f >pan.out 2>&1 || true
    fi
    grep -E "assertion violated|acceptance cycle|errors:|states, stored|max search depth|total actual memory" pan.out | sed "s/^/  [$mode${def:+ $def}] /"
    grep -q "max search depth too small" pan.out && { echo "  search depth too small"; return 2; }
    grep -q "errors: 0" pan.out
}

if [ "${1:-}" = broken ]; then
    rc=0
    for v in "safety -DFREE_EARLY" "safety -DHOLD_ACROSS" "safety -DEXIT_ORDER" "safety -DNO_TLB_FLUSH" "liveness -DNO_IPI"; do
        set -- $v
        if verify "$1" "$2"; then
            echo "NOT CAUGHT: $2 ($1)"; rc=1
        else
            [ $? -eq 2 ] && rc=1
            echo "caught: $2 ($1)"
        fi
    done
    exit $rc
fi

verify safety && verify liveness && echo "epoch model: safety and liveness hold"
