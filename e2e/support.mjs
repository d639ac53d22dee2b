// What the end-to-end tests share: the patgate binary started on 127.0.0.1:0 over a fresh
// SQLite data directory with a directory file loaded (PATGATE_BIN, default
// ../target/debug/patgate), plain REST calls, and Debian's Chromium driven by Playwright.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.PATGATE_BIN ?? resolve(here, "../target/debug/patgate");

/** Starts `patgate serve` with `seed` loaded; resolves to `{ proc, base, dir }`. */
export async function startServer(seed, extraArgs = []) {
  const dir = await mkdtemp(join(tmpdir(), "patgate-e2e-"));
  const proc = spawn(
    BIN,
    ["serve", "--bind", "127.0.0.1:0", "--data-dir", dir, "--demo", "--demo-file", seed, ...extraArgs],
    {
      env: { ...process.env, PATGATE_INSECURE_FAST_PASSWORDS: "1", PATGATE_LOG: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const base = await new Promise((resolveBase, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`patgate did not listen within 60 s:\n${stderr}`)),
      60_000,
    );
    createInterface({ input: proc.stdout }).on("line", (line) => {
      const m = /^patgate listening on (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolveBase(m[1]);
      }
    });
    proc.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${BIN} (set PATGATE_BIN): ${e.message}`));
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`patgate exited (${code ?? signal}) before listening:\n${stderr}`));
    });
  });
  return { proc, base, dir };
}

export async function stopServer(server) {
  if (!server) return;
  const { proc, dir } = server;
  if (proc.exitCode === null && proc.signalCode === null) {
    const exited = once(proc, "exit");
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await rm(dir, { recursive: true, force: true });
}

/** A plain REST call: `login` authenticates with HTTP Basic (`<login>-password`), `token` as a token. */
export async function rest(base, method, path, { login, token, body } = {}) {
  const headers = { accept: "application/vnd.github+json" };
  if (login) {
    headers.authorization = `Basic ${Buffer.from(`${login}:${login}-password`).toString("base64")}`;
  }
  if (token) headers.authorization = `token ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

export function expectStatus(reply, status, what) {
  assert.equal(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/** Debian's Chromium (or CHROMIUM), headless. Missing, it fails when PATGATE_REQUIRE_BROWSER=1. */
export function chromiumPath() {
  const path = process.env.CHROMIUM ?? "/usr/bin/chromium";
  return existsSync(path) ? path : null;
}

/** Why browser tests skip here (`false`: they run). With PATGATE_REQUIRE_BROWSER=1 they never
 * skip: a missing Chromium then fails them. */
export function browserSkip() {
  if (chromiumPath() || process.env.PATGATE_REQUIRE_BROWSER === "1") return false;
  return "Chromium is not installed (apt-get install chromium); PATGATE_REQUIRE_BROWSER=1 makes this a failure";
}

export async function launchBrowser() {
  const { chromium } = await import("playwright-core");
  const executablePath = chromiumPath();
  assert.ok(executablePath, "Chromium is installed (apt-get install chromium)");
  return chromium.launch({
    executablePath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}
