import type { HelperDelegate, HelperOptions } from 'handlebars';
import { RenderBudgetExceeded } from './budget.js';

// Where in the template a render failed. Handlebars throws a helper's error
// as it is, without the place it was called from; but it hands every helper
// the place of its call (`options.loc`). So each helper is wrapped to stamp
// that place on what it throws, and each partial to stamp its file, the
// innermost of each winning. Costs one try/catch per helper call; nothing
// is looked up unless something throws.

/**
 * An error thrown inside a render, with the place of the innermost helper
 * call it came through and the file that call is in, as far as known yet
 * (null: the file is the one the render started from).
 */
export class RenderFault extends Error {
  override name = 'RenderFault';
  constructor(
    readonly file: string | null,
    readonly line: number | null,
    readonly column: number | null,
    options: { cause: unknown },
  ) {
    super(options.cause instanceof Error ? options.cause.message : String(options.cause), options);
  }

  /** The same fault, placed in `file` when no inner partial placed it already. */
  inFile(file: string): RenderFault {
    return this.file === null ? new RenderFault(file, this.line, this.column, { cause: this.cause }) : this;
  }
}

/** The helper, throwing a RenderFault that says where it was called. A budget stop passes as it is: it belongs to the whole render. */
export function locatedHelper(helper: HelperDelegate): HelperDelegate {
  const call = helper as (this: unknown, ...args: unknown[]) => unknown;
  return function (this: unknown, ...args: unknown[]) {
    try {
      return call.apply(this, args);
    } catch (e) {
      if (e instanceof RenderFault || e instanceof RenderBudgetExceeded) throw e;
      const loc = (args[args.length - 1] as (Partial<HelperOptions> & { loc?: hbs.AST.SourceLocation }) | undefined)
        ?.loc;
      throw new RenderFault(null, loc?.start.line ?? null, loc ? loc.start.column + 1 : null, { cause: e });
    }
  };
}

/** A compiled partial whose failures name its file. */
export function locatedPartial(file: string, partial: Handlebars.TemplateDelegate): Handlebars.TemplateDelegate {
  return (context, options) => {
    try {
      return partial(context, options);
    } catch (e) {
      if (e instanceof RenderBudgetExceeded) throw e;
      throw e instanceof RenderFault ? e.inFile(file) : new RenderFault(file, null, null, { cause: e });
    }
  };
}
