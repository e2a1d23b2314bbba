/**
 * Makes an executor from its configured name (`executor:` in `.pipe/config.yaml`, `repro --executor`). The names are
 * checked where they are read (`project/config.ts`), so every name has an implementation here: a new executor is a
 * new name there and a new case here, which the compiler asks for (the switch must return).
 */
import { defaultConfig, type ExecutorName, type SlurmSettings } from "../project/config.js";
import type { Executor } from "./executor.js";
import { RunningRecords } from "./local-groups.js";
import { LocalExecutor } from "./local.js";
import { SlurmExecutor } from "./slurm.js";

export interface ExecutorSetup {
  /** The project root. */
  root: string;
  /** Record what runs under `.pipe/tmp` (false for `--dry`, which runs nothing and writes nothing). */
  record: boolean;
  /** Give each stage command a pseudo-terminal (`repro --tty`; the local executor only). */
  tty?: boolean;
  /** The config's `slurm:` section (default: none of its settings). */
  slurm?: SlurmSettings;
}

export function createExecutor(name: ExecutorName, setup: ExecutorSetup): Executor {
  switch (name) {
    case "local":
      // Each stage's process group is recorded, for the next writer if this pipe dies.
      return new LocalExecutor({
        root: setup.root,
        ...(setup.record ? { recorder: new RunningRecords(setup.root) } : {}),
        ...(setup.tty === true ? { tty: true } : {}),
      });
    case "slurm":
      return new SlurmExecutor({ root: setup.root, settings: setup.slurm ?? defaultConfig().slurm, record: setup.record });
  }
}
