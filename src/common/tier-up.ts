// When V8 optimizes dt's code. V8 compiles a function to optimized code once it has run a
// budget of bytecode, 66 KiB by default: tuned for web pages, whose code mostly runs once.
// dt's client and master run the same few dozen functions for every keystroke, for hours. At
// the default those were compiled during the first two or three thousand keystrokes: each ran
// unoptimized until then, and the compiler's helper thread held a CPU meanwhile (about 100 ms
// of compiling per process), which one keystroke in a hundred waited for, about 3 ms, on two
// cores (a woken process waits for the next scheduler tick behind a busy thread). At a quarter
// of the budget the same functions are compiled within the first thousand keystrokes. At
// half, some were still compiled in the third thousand (p99 there 1.7 ms against 0.6), though
// a new master relaying a burst would compile less: 45 ms instead of 70 in its first 32 MiB.

/** Bytecode a function runs before V8 considers optimizing it. */
const TIER_UP_BUDGET_BYTES = 16 * 1024;

/** The V8 flag that sets it, for v8.setFlagsFromString (it takes effect as functions run on). */
export const TIER_UP_FLAG = `--interrupt-budget=${TIER_UP_BUDGET_BYTES}`;
