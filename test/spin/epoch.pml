/* Promela model of memslot publication under epochs (hv/epoch.c,
 * mm/memslot.c): a writer publishes a new set, waits for a grace period and
 * frees the old set; reader CPUs take references between quiescent states,
 * run guests (extended quiescent state), sit in long exit handlers that only
 * an IPI ends, and report quiescent states at the top of their exit loop.
 *
 * Checked properties:
 *   safety   - no reader dereferences a freed set (assertions);
 *   liveness - every grace period ends: [] (in_gp -> <> !in_gp)
 *              (acceptance cycles, weak fairness).
 * Deliberately broken variants (cpp macros, spin -DNAME) must fail:
 *   FREE_EARLY   the writer frees the old set before the grace period;
 *   NO_IPI       the writer never sends IPIs to stragglers;
 *   HOLD_ACROSS  a reader keeps its reference across a guest entry;
 *   EXIT_ORDER   a CPU leaving the guest reads the map before it shows
 *                ACTIVE (a missing barrier in epoch_exit_eqs);
 *   NO_TLB_FLUSH the writer removes the stage-2 entry but does not flush
 *                the TLBs before the slot's frames are reused.
 *
 * Second-stage tables and TLBs: every other grace period the writer takes
 * a slot (one frame) out of the map, the order of memslot_delete: publish
 * the set without it, grace period, clear the stage-2 entry, flush every
 * CPU's TLB (TLBI ...IS + DSB, or INVEPT by IPI: complete when the writer
 * goes on), and only then reuse the frame; on the next round it maps the
 * frame again (stage-2 entry first, then publish). A vCPU in guest mode may
 * fill its TLB from the stage-2 entry and keeps using the cached entry until
 * a flush: each access (one atomic step: walk if the entry is there, then
 * use the TLB) asserts the frame is not reused.
 * The hypervisor's own readers use the frame only through the published set
 * (the existing assertions). The liveness run leaves this part out
 * (-DNO_TLB_MODEL): the flush is one step of the writer that never waits. */

#define NR      2      /* reader CPUs */
#define NSETS   3      /* set buffers */
#ifndef MAXGP
#define MAXGP   4      /* grace periods the writer runs (bounds the epoch counter) */
#endif

#define OFFLINE 0
#define EQS     1
#define ACTIVE  2

byte cur = 0;                  /* published set */
bool allocated[NSETS];
bool freed[NSETS];
byte global = 1;               /* global epoch */
byte epoch[NR];                /* last epoch each CPU reported */
byte state[NR];
bool ipi[NR];
bool in_gp = false;
bool s2 = true;                /* stage-2 entry of the slot's frame */
bool tlb[NR];                  /* CPU i caches that entry */
bool frame_reused = false;     /* the slot's frame went back to the allocator */


ltl gp_ends { [] (in_gp -> <> !in_gp) }

proctype Reader(byte i)
{
    byte s, g;
    g = global; epoch[i] = g;
    state[i] = ACTIVE;
top:
    /* top of the exit loop: a quiescent state (and any pending IPI is
     * consumed by getting here). A report is a load of the global epoch and
     * a later store, as in the C code. */
    ipi[i] = false;
    g = global; epoch[i] = g;
    if
    :: /* handle an exit that looks the map up */
       s = cur;
       assert(!freed[s]);          /* dereference */
       assert(!freed[s]);          /* ... still valid later in the handler */
#ifdef HOLD_ACROSS
       if
       :: state[i] = EQS;          /* guest entry with the reference held */
          state[i] = ACTIVE;
          assert(!freed[s])
       :: skip
       fi;
#endif
       s = 0
    :: /* a long exit handler, ended only by an interrupt (IPI) */
       skip;
end_handler:
       ipi[i];                     /* blocks until an IPI arrives */
    :: /* enter the guest (extended quiescent state) */
       state[i] = EQS;
       /* the guest touches the slot: walk (fills the TLB) or TLB hit */
#ifndef NO_TLB_MODEL
       atomic {
           if :: s2 -> tlb[i] = true :: else -> skip fi;
           if :: tlb[i] -> assert(!frame_reused) :: else -> skip fi
       };
#endif
       if
       :: true                     /* a VM exit comes eventually ... */
       :: ipi[i]                   /* ... or the IPI forces one */
       fi;
#ifdef EXIT_ORDER
       /* broken: the map is read before the CPU shows ACTIVE (what a missing
        * store-load barrier in epoch_exit_eqs amounts to) */
       if
       :: s = cur; g = global; epoch[i] = g; state[i] = ACTIVE; assert(!freed[s]); s = 0
       :: g = global; epoch[i] = g; state[i] = ACTIVE
       fi
#else
       g = global; epoch[i] = g;   /* epoch_exit_eqs: report, then ACTIVE */
       state[i] = ACTIVE;
       if
       :: s = cur; assert(!freed[s]); s = 0   /* uses the map right after the exit */
       :: skip
       fi
#endif
    :: /* go idle, wake on an interrupt */
       state[i] = EQS;
       if
       :: true
       :: ipi[i]
       fi;
       g = global; epoch[i] = g;
       state[i] = ACTIVE
    fi;
    goto top
}

proctype Writer()
{
    byte old, nw, j, target, n = 0;
    bool removing;
    do
    :: n == MAXGP -> break
    :: n < MAXGP ->
       n++;
       /* build a new set in a free buffer */
       if
       :: !allocated[0] -> nw = 0
       :: !allocated[1] -> nw = 1
       :: !allocated[2] -> nw = 2
       fi;
       allocated[nw] = true;
       freed[nw] = false;
       old = cur;
#ifndef NO_TLB_MODEL
       removing = s2;
       if
       :: !s2 -> frame_reused = false; s2 = true   /* map before publishing */
       :: else -> skip
       fi;
#endif
       cur = nw;                   /* publish (release store) */
#ifdef FREE_EARLY
       freed[old] = true;
#endif
       /* grace period */
       atomic { global = global + 1; target = global; in_gp = true };
       j = 0;
       do
       :: j < NR && (state[j] != ACTIVE || epoch[j] >= target) -> j++
       :: j < NR && !(state[j] != ACTIVE || epoch[j] >= target) ->
#ifndef NO_IPI
          ipi[j] = true
#else
          skip
#endif
       :: j == NR -> break
       od;
       in_gp = false;

       if
       :: removing ->
          s2 = false;              /* clear the stage-2 entry */
#ifndef NO_TLB_FLUSH
          atomic { j = 0; do :: j < NR -> tlb[j] = false; j++ :: else -> break od };
#endif
          frame_reused = true      /* frames reused only after the flush */
       :: else -> skip
       fi;
       freed[old] = true;          /* only now */
       allocated[old] = false
    od
}

init
{
    allocated[0] = true;
    atomic {
        run Writer();
        run Reader(0);
        run Reader(1)
    }
}
