// Evidence for the verdict that thresholds cannot give (read back in handleSummary, verdict.ts):
//  - run_aborted counts exec.test.abort() calls made by the scripts, so a run stopped by setup
//    (exit 108) is never reported as passed;
//  - run_clock_ms holds Date.now() at every journey's start and end: its min and max bound the
//    measured phase, so rates exclude setup's seeding and teardown's cleanup.
import exec from 'k6/execution';
import { Counter, Gauge } from 'k6/metrics';

const aborted = new Counter('run_aborted');
const clock = new Gauge('run_clock_ms');

export const ABORT_COUNTER = 'run_aborted';
export const CLOCK_GAUGE = 'run_clock_ms';

/** Thresholds that make k6 keep both markers in every summary format. */
export const MARKER_THRESHOLDS = { [ABORT_COUNTER]: ['count==0'] };

export function abortRun(reason: string): never {
  aborted.add(1);
  exec.test.abort(reason);
  throw new Error(reason); // not reached: abort() throws; this tells the type checker
}

export function tick(): void {
  clock.add(Date.now());
}
