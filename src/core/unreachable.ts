/**
 * The one exhaustiveness guard. A `switch` over a discriminated union ends in `default: return unreachable(x)`: when
 * a member is added and a case is not, `x` is no longer `never` and the switch fails to compile. Reaching it at run
 * time means a value outside its type crossed a boundary unchecked, a bug, so it throws (caught once in `cli/main.ts`).
 */
export function unreachable(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
