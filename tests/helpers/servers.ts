/**
 * The real servers the remote tests talk to, as `tests/servers/servers.sh start DIR` announces them (`.ci/run`
 * evaluates its `export` lines): radosgw for S3, OpenSSH for SFTP, Apache for WebDAV and read-only HTTP. Each
 * `has...()` is for `requires()`: true when the server's variables are set, else a skip (or, in CI, a failure)
 * whose message says how to start it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";
import { requires } from "./require.js";

const env = process.env;
const HOW = "start them as root with `bash tests/servers/servers.sh start /tmp/pipe-servers > /tmp/pipe-servers.env && . /tmp/pipe-servers.env` (bash .ci/run does)";

export interface S3Server {
  endpoint: string;
  accessKey: string;
  secretKey: string;
}
export interface SftpServer {
  host: string;
  port: number;
  user: string;
  keyFile: string;
  /** The directory the server's root maps to on this machine. */
  root: string;
}
export interface DavServer {
  url: string;
  user: string;
  password: string;
}
export interface HttpServer {
  url: string;
  /** The local directory it serves. */
  root: string;
}

export function s3Server(): S3Server | undefined {
  const endpoint = env.PIPE_TEST_S3_ENDPOINT;
  if (!endpoint || !env.PIPE_TEST_S3_ACCESS_KEY || !env.PIPE_TEST_S3_SECRET_KEY) return undefined;
  return { endpoint, accessKey: env.PIPE_TEST_S3_ACCESS_KEY, secretKey: env.PIPE_TEST_S3_SECRET_KEY };
}

export function sftpServer(): SftpServer | undefined {
  const hp = env.PIPE_TEST_SFTP;
  if (!hp || !env.PIPE_TEST_SFTP_KEY || !env.PIPE_TEST_SFTP_ROOT) return undefined;
  const [host, port] = hp.split(":");
  return { host: host!, port: Number(port ?? 22), user: userInfo().username, keyFile: env.PIPE_TEST_SFTP_KEY, root: env.PIPE_TEST_SFTP_ROOT };
}

export function davServer(): DavServer | undefined {
  return env.PIPE_TEST_DAV ? { url: env.PIPE_TEST_DAV, user: "pipe", password: "pipepass" } : undefined;
}

export function httpServer(): HttpServer | undefined {
  return env.PIPE_TEST_HTTP && env.PIPE_TEST_HTTP_ROOT ? { url: env.PIPE_TEST_HTTP, root: env.PIPE_TEST_HTTP_ROOT } : undefined;
}

export const hasS3 = (): boolean => requires("an S3 server (radosgw)", s3Server() !== undefined, HOW);
export const hasSftp = (): boolean => requires("an SFTP server (OpenSSH)", sftpServer() !== undefined, HOW);
export const hasDav = (): boolean => requires("a WebDAV server (Apache mod_dav)", davServer() !== undefined, HOW);
export const hasHttp = (): boolean => requires("an HTTP server (Apache)", httpServer() !== undefined, HOW);

let knownHostsFile: string | undefined;
/**
 * A known_hosts file that records the test sshd's host key (its public half beside the client key), for the
 * `known_hosts` remote option: the SFTP remote refuses a host it does not know, as ssh does.
 */
export function sftpKnownHosts(srv: SftpServer): string {
  if (knownHostsFile === undefined) {
    const [type, blob] = readFileSync(path.join(path.dirname(srv.keyFile), "host_key.pub"), "utf8").trim().split(/\s+/);
    knownHostsFile = path.join(mkdtempSync(path.join(tmpdir(), "pipe-known-hosts-")), "known_hosts");
    writeFileSync(knownHostsFile, `[${srv.host}]:${srv.port} ${type} ${blob}\n`);
  }
  return knownHostsFile;
}
