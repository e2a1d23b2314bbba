/**
 * Reading `pipe repro --json`: each line of stdout parsed and validated against `schemas/repro-events.schema.json`
 * (which refers to `status.schema.json` for reasons).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import { expect } from "vitest";
import { REPO_ROOT } from "./project.js";

const schema = (name: string): object => JSON.parse(readFileSync(path.join(REPO_ROOT, "schemas", name), "utf8")) as object;
const ajv = new Ajv({ allErrors: true });
ajv.addSchema(schema("status.schema.json"));
export const validate = ajv.compile(schema("repro-events.schema.json"));

export type Event = { type: string; stage?: string; [k: string]: unknown };

/** Every line of `stdout` parsed and checked against the schema. */
export function eventsOf(stdout: string): Event[] {
  expect(stdout.endsWith("\n"), stdout).toBe(true);
  return stdout
    .slice(0, -1)
    .split("\n")
    .map((l) => {
      const e = JSON.parse(l) as Event;
      expect(validate(e), `${l}\n${JSON.stringify(validate.errors, null, 2)}`).toBe(true);
      return e;
    });
}

export const ofType = (events: Event[], type: string): Event[] => events.filter((e) => e.type === type);
