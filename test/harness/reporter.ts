/**
 * Mocha's spec reporter plus one plain closing line, "N passed, N failed, N skipped", which CI logs and
 * people grepping a long run can read without knowing mocha's wording. Registered in .mocharc.json.
 */
import * as Mocha from 'mocha';

class SpecWithTotals extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    // Registered after Spec's own epilogue listener, so the line comes last.
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const stats = this.stats;
      process.stdout.write(`${stats.passes} passed, ${stats.failures} failed, ${stats.pending} skipped\n`);
    });
  }
}

export = SpecWithTotals;
