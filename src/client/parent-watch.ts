// Whether the process that ran this one is still there to take its exit status. `ssh host dt
// -w job`, without -t, gives the waiter no terminal, so no hang-up: when the connection drops,
// sshd's process for it ends, and nothing tells the waiter, whose parent it was (the remote
// shell runs a lone command in its own place). Its output pipes lose their reader, but the
// kernel says so only to a write or to poll(2), and Node offers neither for a descriptor it
// writes nothing to. Its parent changes, though: it is adopted (by init, or a subreaper), and
// an adopted process's status goes to nobody who asked for it.

/** How often a waiter looks whether its parent is still the one that ran it. */
export const PARENT_CHECK_INTERVAL_MS = 1_000;

/** The parent now: what parentHasChanged() compares with. */
export function currentParent(): number {
  return process.ppid;
}

/** True once this process has been adopted: the parent it had (`parent`) has ended. */
export function parentHasChanged(parent: number): boolean {
  return process.ppid !== parent;
}

/**
 * Calls `onAdopted` once the parent `parent` has ended, looking every PARENT_CHECK_INTERVAL_MS
 * (getppid(2), nothing more). Returns the function that stops looking. The timer keeps
 * nothing running.
 */
export function watchParent(parent: number, onAdopted: () => void): () => void {
  const timer = setInterval(() => {
    if (!parentHasChanged(parent)) return;
    clearInterval(timer);
    onAdopted();
  }, PARENT_CHECK_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
