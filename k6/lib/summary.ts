// handleSummary() for every script: reads either summary format (summary-data.ts), decides the
// verdict (verdict.ts), prints the report and writes <SUMMARY_DIR>/<script>-summary.json with
// k6's raw data under `k6`. k6's own textSummary lives in a remote jslib, which is not imported.
import exec from 'k6/execution';
import { SUMMARY_DIR } from './config.ts';
import type { Report } from './report.ts';
import { renderText, scenarioLines } from './report.ts';
import type { SummaryView } from './summary-data.ts';
import { readSummary } from './summary-data.ts';

/** Builds the report from the summary and k6's resolved options (CLI flags applied). */
export type ReportBuilder = (
  view: SummaryView,
  options: unknown,
) => Omit<Report, 'script' | 'view' | 'config'> & {
  json?: Record<string, unknown>;
};

export function summaryHandler(script: string, build: ReportBuilder): (data: unknown) => Record<string, string> {
  return (data: unknown) => {
    const view = readSummary(data);
    const options: unknown = exec.test.options;
    const built = build(view, options);
    const report: Report = { script, view, config: scenarioLines(options), ...built };
    const jsonPath = `${SUMMARY_DIR}/${script}-summary.json`;
    const json = {
      script,
      verdict: report.decision.verdict,
      passed: report.decision.verdict === 'PASSED',
      reasons: report.decision.reasons,
      format: view.format,
      config: report.config,
      thresholds: report.thresholds,
      requests: report.ops,
      checks: view.checks,
      ...(built.json ?? {}),
      k6: data,
    };
    return {
      stdout: renderText(report, jsonPath),
      [jsonPath]: `${JSON.stringify(json, null, 2)}\n`,
    };
  };
}
