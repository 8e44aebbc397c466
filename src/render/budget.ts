import type Handlebars from 'handlebars';
import type { HelperOptions } from 'handlebars';

/** A render stopped because it ran past its time budget; the message names the limit. */
export class RenderBudgetExceeded extends Error {
  constructor(
    readonly file: string,
    readonly budgetMs: number,
  ) {
    super(
      `${file}: render stopped after ${budgetMs} ms (render.budgetMs): the template loops over more than it can finish in time`,
    );
  }
}

/**
 * The time budget of one template's renders. Every `each` iteration looks at
 * the clock, so a template whose loops blow up (nested loops over every
 * service) is stopped once the budget is spent — the event loop is held for
 * at most that long — rather than holding the daemon until it finishes.
 */
export class RenderBudget {
  private deadline = Infinity;

  constructor(
    private readonly file: string,
    readonly ms: number,
  ) {}

  /** Runs one render with the clock started. */
  run<T>(render: () => T): T {
    this.deadline = performance.now() + this.ms;
    try {
      return render();
    } finally {
      this.deadline = Infinity;
    }
  }

  /** Handlebars' `each`, checking the budget before each item. */
  each(builtin: Handlebars.HelperDelegate): Handlebars.HelperDelegate {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the helper's `this` is Handlebars' context
    const budget = this;
    return function (this: unknown, context: unknown, options: HelperOptions) {
      const fn = options.fn;
      const timed: HelperOptions = {
        ...options,
        fn: Object.assign((item: unknown, opts?: Handlebars.RuntimeOptions) => {
          if (performance.now() > budget.deadline) throw new RenderBudgetExceeded(budget.file, budget.ms);
          return fn(item, opts);
        }, fn),
      };
      return builtin.call(this, context, timed);
    };
  }
}
