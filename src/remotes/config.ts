/**
 * Remotes as the project configures them, and the edits `pipe remote ...` makes. Four files are read, later ones
 * winning key by key, as DVC merges its own levels:
 *
 *     .dvc/config, .dvc/config.local          DVC's INI (`['remote "storage"']`, `[core] remote = storage`), read only
 *     .pipe/config.yaml                       committed: `core: {remote: NAME}`, `remote: {NAME: {url: ..., ...}}`
 *     .pipe/config.local.yaml                 git-ignored: secrets and personal settings (`--local`)
 *
 * so a DVC project pulls with no set-up, and a pipe setting overrides DVC's without editing `.dvc/`. A secret
 * (`password`, `secret_access_key`, ...) is never written to `.pipe/config.yaml`: `remote modify` puts it in the
 * local file whatever the flag, and a URL carrying a password is refused. `maskSecrets` is how anything that prints
 * options hides them. Edits keep the YAML files' comments (the `yaml` document API), and are written atomically.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { isMap, isScalar, type Document } from "yaml";
import { didYouMean, error, fail, ok, type Diagnostic, type Result } from "../core/diagnostic.js";
import { writeAtomic } from "../core/atomic-write.js";
import { yamlLib } from "../formats/yaml.js";
import { GITIGNORE_LINES } from "../project/root.js";
import type { RemoteSpec } from "./remote.js";

export const PIPE_CONFIG = ".pipe/config.yaml";
export const PIPE_LOCAL_CONFIG = ".pipe/config.local.yaml";
export const DVC_CONFIG = ".dvc/config";
export const DVC_LOCAL_CONFIG = ".dvc/config.local";

/** Options whose values are credentials: never in a tracked file, never printed. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  "password",
  "secret_access_key",
  "access_key_id",
  "session_token",
  "key_passphrase",
  "token",
  "custom_auth_header_value",
  "sas_token",
  "account_key",
  "connection_string",
]);

/** Options `remote modify` accepts (DVC's, for the kinds pipe opens); others are refused with the nearest name. */
export const REMOTE_KEYS: readonly string[] = [
  "url",
  // every kind
  "jobs",
  "timeout",
  "verify",
  // s3
  "endpointurl",
  "region",
  "profile",
  "credentialpath",
  "configpath",
  "access_key_id",
  "secret_access_key",
  "session_token",
  "use_ssl",
  "ssl_verify",
  "listobjects",
  "sse",
  "sse_kms_key_id",
  "acl",
  "grant_read",
  "grant_full_control",
  "version_aware",
  // ssh
  "user",
  "port",
  "keyfile",
  "password",
  "ask_password",
  "key_passphrase",
  "ask_passphrase",
  "gss_auth",
  "allow_agent",
  "known_hosts",
  "host_key_check",
  // webdav / http
  "token",
  "auth",
  "custom_auth_header",
  "custom_auth_header_value",
  "method",
  "cert_path",
  "key_path",
  "read_timeout",
  "connect_timeout",
];

export interface RemoteConfig {
  /** By name, sorted. */
  remotes: Map<string, RemoteSpec>;
  /** `core.remote`, and the file that set it. */
  defaultRemote?: { name: string; source: string };
}

type Section = Record<string, string>;
interface Level {
  file: string;
  core: Section;
  remotes: Map<string, Section>;
}

/** Reads the four levels and merges them (module comment). Missing files are empty levels. */
export async function readRemoteConfig(root: string): Promise<Result<RemoteConfig>> {
  const errors: Diagnostic[] = [];
  const levels: Level[] = [];
  for (const file of [DVC_CONFIG, DVC_LOCAL_CONFIG, PIPE_CONFIG, PIPE_LOCAL_CONFIG]) {
    const text = await readText(root, file);
    if (!text.ok) {
      errors.push(...text.errors);
      continue;
    }
    if (text.value === undefined) continue;
    const lv = file.startsWith(".dvc/") ? parseDvcIni(file, text.value) : parseYamlLevel(file, text.value);
    if (lv.ok) levels.push(lv.value);
    else errors.push(...lv.errors);
  }
  if (errors.length > 0) return fail(errors);
  const merged = new Map<string, { options: Section; source: string }>();
  let defaultRemote: RemoteConfig["defaultRemote"];
  for (const lv of levels) {
    for (const [name, sec] of lv.remotes) {
      const m = merged.get(name) ?? { options: {}, source: lv.file };
      Object.assign(m.options, sec);
      if (sec["url"] !== undefined) m.source = lv.file;
      merged.set(name, m);
    }
    const d = lv.core["remote"];
    if (d !== undefined) defaultRemote = d === "" ? undefined : { name: d, source: lv.file };
  }
  const remotes = new Map<string, RemoteSpec>();
  for (const name of [...merged.keys()].sort()) {
    const m = merged.get(name)!;
    const { url, ...options } = m.options;
    // A section with only options (a local password for a remote another file defines) is no remote by itself.
    if (url === undefined) continue;
    remotes.set(name, { name, url, options, source: m.source });
  }
  return ok(defaultRemote ? { remotes, defaultRemote } : { remotes });
}

/** The remote a transfer uses: `-r NAME`, else the default; a located reason when there is none. */
export function chooseRemote(config: RemoteConfig, name: string | undefined): Result<RemoteSpec> {
  const wanted = name ?? config.defaultRemote?.name;
  if (wanted === undefined) {
    const known = [...config.remotes.keys()];
    return fail([
      error("usage", "no remote given and no default remote configured", undefined, {
        hint: known.length > 0 ? `pass -r NAME (configured: ${known.join(", ")}) or set one: 'pipe remote default NAME'` : "add one: 'pipe remote add -d NAME URL'",
      }),
    ]);
  }
  const spec = config.remotes.get(wanted);
  if (!spec) {
    const hint = didYouMean(wanted, config.remotes.keys());
    const from = name === undefined ? ` (the default remote, set in ${config.defaultRemote!.source})` : "";
    return fail([error("usage", `remote '${wanted}'${from} is not configured`, undefined, { hint: hint ?? "'pipe remote list' shows the configured remotes" })]);
  }
  return ok(spec);
}

/** Options with secrets replaced by `***`, and a URL without its password, for printing. */
export function maskSecrets(spec: RemoteSpec): { url: string; options: Record<string, string> } {
  const options: Record<string, string> = {};
  for (const k of Object.keys(spec.options).sort()) options[k] = SECRET_KEYS.has(k) ? "***" : spec.options[k]!;
  return { url: maskUrl(spec.url), options };
}

export function maskUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, "$1:***@");
}

/** A URL with a password in it (`https://user:pw@host`): it would end up in a tracked file. */
function urlHasPassword(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:[^/@]*@/i.test(url);
}

async function readText(root: string, file: string): Promise<Result<string | undefined>> {
  try {
    return ok(await readFile(path.join(root, file), "utf8"));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return ok(undefined);
    return fail([error("io", `cannot read ${file}: ${(e as Error).message}`)]);
  }
}

/**
 * DVC's config, as configobj writes it: `[core]` with `remote = storage`, and `['remote "storage"']` (quoted or not)
 * with `key = value` lines. Comments (`#`, `;`) and blank lines are skipped; other sections are not ours.
 */
export function parseDvcIni(file: string, text: string): Result<Level> {
  const lv: Level = { file, core: {}, remotes: new Map() };
  let current: Section | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    if (line.startsWith("[")) {
      const m = /^\[\s*(['"]?)(.*)\1\s*\]$/.exec(line);
      if (!m) return fail([error("yaml-syntax", `cannot read ${file}: '${line}' is not a section header`, { file, line: i + 1, col: 1 })]);
      const head = m[2]!.trim();
      const r = /^remote\s+"([^"]+)"$/.exec(head);
      if (head === "core") current = lv.core;
      else if (r) {
        current = lv.remotes.get(r[1]!) ?? {};
        lv.remotes.set(r[1]!, current);
      } else current = undefined;
      continue;
    }
    const eq = line.indexOf("=");
    if (eq < 0) return fail([error("yaml-syntax", `cannot read ${file}: '${line}' is not 'key = value'`, { file, line: i + 1, col: 1 })]);
    if (!current) continue;
    current[line.slice(0, eq).trim()] = unquote(line.slice(eq + 1).trim());
  }
  return ok(lv);
}

function unquote(v: string): string {
  if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0]) return v.slice(1, -1);
  return v;
}

function scalarText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

function parseYamlLevel(file: string, text: string): Result<Level> {
  const doc = yamlLib().parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    return fail([error("yaml-syntax", `cannot read ${file}: ${e.message.split("\n")[0]}`, { file, line: e.linePos?.[0]?.line ?? 1, col: e.linePos?.[0]?.col ?? 1 })]);
  }
  const lv: Level = { file, core: {}, remotes: new Map() };
  const plain = doc.toJS() as unknown;
  if (plain === null || typeof plain !== "object") return ok(lv);
  const top = plain as Record<string, unknown>;
  const core = top["core"];
  if (core && typeof core === "object") {
    const d = scalarText((core as Record<string, unknown>)["remote"]);
    if (d !== undefined) lv.core["remote"] = d;
  }
  const rem = top["remote"];
  if (rem !== undefined && rem !== null) {
    if (typeof rem !== "object" || Array.isArray(rem)) return fail([error("wrong-type", `'remote' in ${file} must be a mapping of remote names to settings`, { file, line: 1, col: 1 })]);
    for (const [name, sec] of Object.entries(rem as Record<string, unknown>)) {
      if (sec === null || typeof sec !== "object" || Array.isArray(sec)) {
        return fail([error("wrong-type", `'remote.${name}' in ${file} must be a mapping (url: ..., and options)`, { file, line: 1, col: 1 })]);
      }
      const s: Section = {};
      for (const [k, v] of Object.entries(sec as Record<string, unknown>)) {
        const t = scalarText(v);
        if (t !== undefined) s[k] = t;
      }
      lv.remotes.set(name, s);
    }
  }
  return ok(lv);
}

// ---- edits ----

/** What an edit did, for the command to say. */
export interface EditOutcome {
  /** Files written, root-relative. */
  written: string[];
  /** Notes for the user (a secret moved to the local file). */
  notes: string[];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

async function loadDoc(root: string, file: string): Promise<Result<Document>> {
  const t = await readText(root, file);
  if (!t.ok) return t;
  const doc = yamlLib().parseDocument(t.value ?? "");
  if (doc.errors.length > 0) return fail([error("yaml-syntax", `cannot edit ${file}: ${doc.errors[0]!.message.split("\n")[0]}`)]);
  if (doc.contents !== null && !isMap(doc.contents) && !(isScalar(doc.contents) && doc.contents.value === null)) {
    return fail([error("wrong-type", `cannot edit ${file}: it is not a mapping of settings`)]);
  }
  return ok(doc);
}

async function saveDoc(root: string, file: string, doc: Document): Promise<void> {
  // A section left empty by a removal goes too (`remote: {}` would read as a remote list that is there but empty).
  for (const top of ["remote", "core"]) {
    const m = doc.get(top);
    if (isMap(m) && m.items.length === 0) doc.delete(top);
  }
  const text = doc.contents === null || (isMap(doc.contents) && doc.contents.items.length === 0) ? "" : doc.toString();
  // A project without `.pipe/` yet gets it here, with the `.gitignore` every writer gives it (the local file in it).
  await mkdir(path.join(root, ".pipe"), { recursive: true });
  await ensureIgnored(root);
  await writeAtomic(path.join(root, file), text, { durable: true });
}

/** `.pipe/.gitignore` names the local config (a project made before it existed may lack the line). */
async function ensureIgnored(root: string): Promise<void> {
  const gi = path.join(root, ".pipe", ".gitignore");
  const t = await readText(root, ".pipe/.gitignore");
  const text = t.ok ? (t.value ?? "") : "";
  const have = new Set(text.split(/\r?\n/).map((l) => l.trim()));
  const missing = GITIGNORE_LINES.filter((l) => !have.has(l));
  if (missing.length === 0) return;
  await writeAtomic(gi, text + (text === "" || text.endsWith("\n") ? "" : "\n") + missing.join("\n") + "\n");
}

function usage(message: string, hint?: string): Result<never> {
  return fail([error("usage", message, undefined, hint ? { hint } : {})]);
}

/** `remote add [-d] [-f] NAME URL [--local]`. */
export async function addRemote(root: string, name: string, url: string, opts: { default?: boolean; force?: boolean; local?: boolean }): Promise<Result<EditOutcome>> {
  if (!NAME_RE.test(name)) return usage(`'${name}' is not a remote name (letters, digits, '.', '_', '-')`);
  if (urlHasPassword(url)) {
    return usage(`the URL of remote '${name}' holds a password, which would be written to a file git tracks`, `add the URL without it, then: pipe remote modify --local ${name} password SECRET`);
  }
  const cfg = await readRemoteConfig(root);
  if (!cfg.ok) return cfg;
  const existing = cfg.value.remotes.get(name);
  if (existing && !opts.force) return usage(`remote '${name}' already exists (in ${existing.source})`, `'pipe remote modify ${name} url ${url}' changes its URL; -f replaces it`);
  const file = opts.local ? PIPE_LOCAL_CONFIG : PIPE_CONFIG;
  const d = await loadDoc(root, file);
  if (!d.ok) return d;
  // -f replaces the section as DVC's does: options of the old one go.
  if (d.value.hasIn(["remote", name])) d.value.deleteIn(["remote", name]);
  d.value.setIn(["remote", name, "url"], url);
  if (opts.default) d.value.setIn(["core", "remote"], name);
  await saveDoc(root, file, d.value);
  return ok({ written: [file], notes: [] });
}

/** `remote modify NAME KEY VALUE [--local]` and `remote modify NAME KEY --unset`. */
export async function modifyRemote(root: string, name: string, key: string, value: string | undefined, opts: { local?: boolean }): Promise<Result<EditOutcome>> {
  if (!REMOTE_KEYS.includes(key)) {
    const hint = didYouMean(key, REMOTE_KEYS);
    return usage(`'${key}' is not an option of a remote`, hint ?? `options: ${REMOTE_KEYS.join(", ")}`);
  }
  const cfg = await readRemoteConfig(root);
  if (!cfg.ok) return cfg;
  if (!cfg.value.remotes.has(name)) {
    return usage(`remote '${name}' is not configured`, didYouMean(name, cfg.value.remotes.keys()) ?? `add it: 'pipe remote add ${name} URL'`);
  }
  const notes: string[] = [];
  if (value !== undefined && key === "url" && urlHasPassword(value)) {
    return usage(`the URL holds a password, which would be written to a file git tracks`, `set the URL without it, and the password with: pipe remote modify --local ${name} password SECRET`);
  }
  const written: string[] = [];
  if (value === undefined) {
    // --unset: wherever pipe's files set it (DVC's files are not pipe's to edit).
    for (const file of [PIPE_CONFIG, PIPE_LOCAL_CONFIG]) {
      const d = await loadDoc(root, file);
      if (!d.ok) return d;
      if (!d.value.hasIn(["remote", name, key])) continue;
      d.value.deleteIn(["remote", name, key]);
      await saveDoc(root, file, d.value);
      written.push(file);
    }
    return ok({ written, notes });
  }
  let local = opts.local === true;
  if (SECRET_KEYS.has(key) && !local) {
    local = true;
    notes.push(`'${key}' is a secret: it was written to ${PIPE_LOCAL_CONFIG} (git-ignored), not ${PIPE_CONFIG}`);
  }
  const file = local ? PIPE_LOCAL_CONFIG : PIPE_CONFIG;
  const d = await loadDoc(root, file);
  if (!d.ok) return d;
  d.value.setIn(["remote", name, key], value);
  await saveDoc(root, file, d.value);
  written.push(file);
  return ok({ written, notes });
}

/** `remote remove NAME`: its sections in pipe's files, and the default when it was this one. */
export async function removeRemote(root: string, name: string): Promise<Result<EditOutcome>> {
  const cfg = await readRemoteConfig(root);
  if (!cfg.ok) return cfg;
  const spec = cfg.value.remotes.get(name);
  if (!spec) return usage(`remote '${name}' is not configured`, didYouMean(name, cfg.value.remotes.keys()));
  const written: string[] = [];
  const notes: string[] = [];
  for (const file of [PIPE_CONFIG, PIPE_LOCAL_CONFIG]) {
    const d = await loadDoc(root, file);
    if (!d.ok) return d;
    let changed = false;
    if (d.value.hasIn(["remote", name])) {
      d.value.deleteIn(["remote", name]);
      changed = true;
    }
    if (d.value.getIn(["core", "remote"]) === name) {
      d.value.deleteIn(["core", "remote"]);
      changed = true;
    }
    if (changed) {
      await saveDoc(root, file, d.value);
      written.push(file);
    }
  }
  const after = await readRemoteConfig(root);
  if (after.ok && after.value.remotes.has(name)) {
    notes.push(`remote '${name}' is still configured by ${after.value.remotes.get(name)!.source}, which pipe does not edit`);
  }
  return ok({ written, notes });
}

/** `remote default NAME` sets it (`--local`: in the local file); `remote default --unset` clears pipe's. */
export async function setDefaultRemote(root: string, name: string | undefined, opts: { local?: boolean }): Promise<Result<EditOutcome>> {
  if (name !== undefined) {
    const cfg = await readRemoteConfig(root);
    if (!cfg.ok) return cfg;
    if (!cfg.value.remotes.has(name)) return usage(`remote '${name}' is not configured`, didYouMean(name, cfg.value.remotes.keys()) ?? `add it: 'pipe remote add -d ${name} URL'`);
  }
  const files = name === undefined ? [PIPE_CONFIG, PIPE_LOCAL_CONFIG] : [opts.local ? PIPE_LOCAL_CONFIG : PIPE_CONFIG];
  const written: string[] = [];
  for (const file of files) {
    const d = await loadDoc(root, file);
    if (!d.ok) return d;
    if (name === undefined) {
      if (!d.value.hasIn(["core", "remote"])) continue;
      d.value.deleteIn(["core", "remote"]);
    } else d.value.setIn(["core", "remote"], name);
    await saveDoc(root, file, d.value);
    written.push(file);
  }
  return ok({ written, notes: [] });
}
