/**
 * The one exhaustiveness check. A `switch` over a discriminated union that ends in `default: return unreachable(x)`
 * stops compiling when the union gains a member no case handles (a new stale reason, event or warning that a
 * reporter would otherwise print as nothing); at run time it is a bug, thrown for `cli/main.ts` to report.
 */
export function unreachable(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
