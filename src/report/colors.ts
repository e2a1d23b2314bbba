/**
 * The colour functions reporters paint with (picocolors'; each is the identity when colour is off). Reporters take
 * them as a parameter; whether colour is on is the CLI's decision (`cli/context.ts`).
 */
import type pc from "picocolors";

export type Colors = ReturnType<typeof pc.createColors>;
