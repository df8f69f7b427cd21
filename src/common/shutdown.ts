// One list of cleanup steps per process, run once, newest first, on every way out.

const steps: Array<() => void> = [];
let ran = false;

/** Register a cleanup the moment the resource it undoes exists. */
export function onShutdown(step: () => void): void {
  steps.push(step);
}

export function runShutdown(): void {
  if (ran) return;
  ran = true;
  for (const step of steps.reverse()) {
    try {
      step();
    } catch {
      // Cleanup is best effort: a terminal that is already gone cannot be restored, and one
      // failed step must not stop the others.
    }
  }
}
