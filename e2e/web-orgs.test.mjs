// The web UI, part 2, as people use it in Chromium (issue 11): a member asks for access with
// fine-grained tokens; the owner filters the pending requests by owner, repository and
// permission, approves two in one bulk step and denies one with a reason, revokes an active
// token, restricts classic tokens and finds it in the audit log; the API confirms each state;
// the member's token page shows the reason; a member who is not an owner gets 404 on every
// settings page; an enterprise owner forces a policy and the organization's page shows it locked.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

import {
  browserSkip,
  expectStatus,
  here,
  launchBrowser,
  rest,
  startServer,
  stopServer,
} from "./support.mjs";

const SEED = join(here, "web-seed.toml");
const SHOTS = resolve(process.env.PATGATE_SCREENSHOTS ?? join(here, "screenshots"));
const require = createRequire(import.meta.url);
const AXE = await readFile(require.resolve("axe-core/axe.min.js"), "utf8");
const skip = browserSkip();
const ORG = "/organizations/acme/settings";

let server;
let browser;
/** name -> token id, for the tokens the members asked for. */
const ids = {};

before(async () => {
  if (skip) return;
  server = await startServer(SEED);
  browser = await launchBrowser();
  await mkdir(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

async function signedIn(login) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${server.base}/login`);
  await page.getByLabel("Username").fill(login);
  await page.getByLabel("Password").fill(`${login}-password`);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/settings\/personal-access-tokens$/);
  return { context, page };
}

async function assertAccessible(page, what) {
  await page.evaluate(AXE);
  // eslint-disable-next-line no-undef
  const result = await page.evaluate(() => axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => ["serious", "critical"].includes(v.impact));
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
    [],
    `${what} has accessibility violations`,
  );
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The names of the requests the list shows. */
async function listed(page) {
  return page.locator("li.box-row a.box-row-title").allInnerTexts();
}

/** A member asks through the API (the browser test of part 1 covers asking in the form). */
async function ask(login, name, repositories, permissions) {
  const created = expectStatus(
    await rest(server.base, "POST", "/user/personal-access-tokens", {
      login,
      body: {
        name,
        resource_owner: "acme",
        repositories,
        permissions: { repository: permissions },
        justification: `${name} for the release`,
      },
    }),
    201,
    `creating ${name}`,
  );
  assert.equal(created.status, "pending");
  ids[name] = created.id;
  return created;
}

async function statusOf(login, name) {
  const r = expectStatus(
    await rest(server.base, "GET", `/user/personal-access-tokens/${ids[name]}`, { login }),
    200,
    `reading ${name}`,
  );
  return r.status;
}

test("the owner filters, approves two at once, denies one with a reason, revokes one", { skip }, async () => {
  // bob asks in the form, as a member does.
  const bob = await signedIn("bob");
  await bob.page.goto(
    `${server.base}/settings/personal-access-tokens/new?name=b-api&target_name=acme&contents=read`,
  );
  await bob.page.getByLabel("Request message").fill("b-api for the release");
  await bob.page.getByLabel("acme/api").check();
  await bob.page.getByRole("button", { name: "Generate token" }).click();
  await bob.page.getByText("It is pending until an owner of acme approves it").waitFor();
  const mine = expectStatus(
    await rest(server.base, "GET", "/user/personal-access-tokens", { login: "bob" }),
    200,
    "bob's tokens",
  );
  ids["b-api"] = mine.find((t) => t.name === "b-api").id;
  await bob.context.close();
  await ask("bob", "b-tools", ["tools"], { issues: "write" });
  await ask("carol", "c-api", ["api"], { contents: "write" });
  await ask("carol", "c-web", ["website"], { issues: "read" });

  const { context, page } = await signedIn("alice");
  await page.getByRole("navigation", { name: "Settings" }).getByRole("link", { name: /acme/ }).click();
  await page.getByRole("link", { name: "Pending requests" }).click();
  await page.getByRole("heading", { name: "Pending requests" }).waitFor();
  assert.deepEqual((await listed(page)).sort(), ["b-api", "b-tools", "c-api", "c-web"]);
  await assertAccessible(page, "the pending requests");
  await shot(page, "org-pending-requests");

  // The three filters, reflected in the URL.
  await page.getByLabel("Owner").selectOption("bob");
  await page.waitForURL(/owner=bob/);
  assert.deepEqual((await listed(page)).sort(), ["b-api", "b-tools"]);
  await page.getByLabel("Repository").selectOption("tools");
  await page.waitForURL(/repository=tools/);
  assert.deepEqual(await listed(page), ["b-tools"]);
  await page.goto(`${server.base}${ORG}/personal-access-token-requests?permission=contents_write`);
  assert.deepEqual(await listed(page), ["c-api"]);
  assert.equal(await page.getByLabel("Permissions").inputValue(), "contents_write");

  // bob's two, approved in one bulk step.
  await page.goto(`${server.base}${ORG}/personal-access-token-requests?owner=bob`);
  await page.getByLabel("Select all").check();
  await page.getByRole("button", { name: "Approve…" }).click();
  await page.getByRole("heading", { name: "Approve 2 requests?" }).waitFor();
  await page.getByRole("button", { name: "Approve", exact: true }).click();
  await page.getByRole("status").getByText("Approved 2 requests.").waitFor();
  assert.deepEqual(await listed(page), [], "bob's requests are decided");
  assert.equal(await statusOf("bob", "b-api"), "approved");
  assert.equal(await statusOf("bob", "b-tools"), "approved");

  // carol's c-api, denied from its page with a reason.
  await page.goto(`${server.base}${ORG}/personal-access-token-requests`);
  await page.getByRole("link", { name: "c-api", exact: true }).click();
  await page.getByText("c-api for the release").waitFor();
  await shot(page, "org-request");
  await page.getByRole("link", { name: "Deny…" }).click();
  await page.getByLabel("Reason (optional)").fill("Use a read-only token for the release");
  await assertAccessible(page, "the deny confirmation");
  await page.getByRole("button", { name: "Deny", exact: true }).click();
  await page.getByRole("status").getByText("Denied 1 request.").waitFor();
  assert.deepEqual(await listed(page), ["c-web"]);
  assert.equal(await statusOf("carol", "c-api"), "denied");

  // Revoke b-tools's access.
  await page.getByRole("link", { name: "Active tokens" }).click();
  await page.getByRole("heading", { name: "Active tokens" }).waitFor();
  assert.deepEqual((await listed(page)).sort(), ["b-api", "b-tools"]);
  await shot(page, "org-active-tokens");
  await page.getByLabel("Select b-tools of bob").check();
  await page.getByRole("button", { name: "Revoke selected…" }).click();
  await page.getByRole("button", { name: "Revoke", exact: true }).click();
  await page.getByRole("status").getByText("Revoked the access of 1 token to acme.").waitFor();
  assert.deepEqual(await listed(page), ["b-api"]);
  assert.equal(await statusOf("bob", "b-tools"), "revoked");
  await context.close();

  // carol sees why she was denied.
  const carol = await signedIn("carol");
  await carol.page.getByRole("link", { name: "c-api", exact: true }).click();
  await carol.page.getByText("Use a read-only token for the release").waitFor();
  await carol.page.getByText("Denied", { exact: true }).first().waitFor();
  await carol.context.close();
});

test("restricting classic tokens is saved, enforced, and in the audit log", { skip }, async () => {
  const { context, page } = await signedIn("alice");
  const { token: classic } = expectStatus(
    await rest(server.base, "POST", "/authorizations", {
      login: "bob",
      body: { note: "laptop", scopes: ["repo"] },
    }),
    201,
    "bob's classic token",
  );
  assert.equal((await rest(server.base, "GET", "/repos/acme/api", { token: classic })).status, 200);
  await page.goto(`${server.base}${ORG}/personal-access-tokens`);
  await assertAccessible(page, "the policy page");
  await page.getByLabel("Restrict access via personal access tokens (classic)").check();
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").getByText("The policy was saved.").waitFor();
  assert.ok(await page.getByLabel("Restrict access via personal access tokens (classic)").isChecked());
  await shot(page, "org-policy");
  const refused = await rest(server.base, "GET", "/repos/acme/api", { token: classic });
  assert.equal(refused.status, 403);
  assert.match(refused.body.message, /'acme' organization forbids access via a personal access token \(classic\)/);

  await page.getByRole("link", { name: "Audit log" }).click();
  await page.getByLabel("Action").selectOption("org.personal_access_token_policy_update");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.getByRole("cell", { name: "org.personal_access_token_policy_update" }).first().waitFor();
  await page.getByRole("cell", { name: "alice", exact: true }).first().waitFor();
  await assertAccessible(page, "the audit log");
  await shot(page, "org-audit-log");
  await context.close();
});

test("a member who is not an owner gets 404 on every settings page", { skip }, async () => {
  const { context, page } = await signedIn("bob");
  for (const path of [
    `${ORG}/personal-access-tokens`,
    `${ORG}/personal-access-token-requests`,
    `${ORG}/personal-access-token-requests/1`,
    `${ORG}/personal-access-token-requests/review?decision=approve&ids=1`,
    `${ORG}/personal-access-tokens/active`,
    `${ORG}/personal-access-tokens/active/1`,
    `${ORG}/audit-log`,
    "/enterprises/corp/settings/personal-access-tokens",
  ]) {
    const r = await page.goto(`${server.base}${path}`);
    assert.equal(r.status(), 404, path);
    await page.getByRole("heading", { name: "Page not found" }).waitFor();
  }
  // Not even a form posted past the page.
  const cookie = (await context.cookies(server.base)).map((c) => `${c.name}=${c.value}`).join("; ");
  await page.goto(`${server.base}/settings/personal-access-tokens`);
  const formToken = await page.locator('input[name="_csrf"]').first().inputValue();
  const posted = await fetch(`${server.base}${ORG}/personal-access-tokens`, {
    method: "POST",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: formToken, fine_grained: "restrict" }),
    redirect: "manual",
  });
  assert.equal(posted.status, 404);
  const policy = expectStatus(
    await rest(server.base, "GET", "/orgs/acme/personal-access-token-policy", { login: "alice" }),
    200,
    "acme's policy",
  );
  assert.equal(policy.fine_grained.value, "allow", "nothing changed");
  await context.close();
});

test("an enterprise owner forces a policy and the organization's page shows it locked", { skip }, async () => {
  const erin = await signedIn("erin");
  await erin.page.goto(`${server.base}/enterprises/corp/settings/personal-access-tokens`);
  await erin.page.getByText("globex").first().waitFor();
  await assertAccessible(erin.page, "the enterprise policy page");
  await erin.page.getByLabel("Restrict access via personal access tokens (classic)").check();
  await erin.page.getByRole("button", { name: "Save" }).click();
  await erin.page.getByRole("status").getByText("The policy of corp was saved.").waitFor();
  await shot(erin.page, "enterprise-policy");
  await erin.context.close();

  const alice = await signedIn("alice");
  await alice.page.goto(`${server.base}/organizations/globex/settings/personal-access-tokens`);
  await alice.page.getByText("Set by the corp enterprise to “Restrict access via personal access tokens (classic)”").waitFor();
  const restrict = alice.page.getByLabel("Restrict access via personal access tokens (classic)");
  assert.ok(await restrict.isChecked());
  assert.ok(await restrict.isDisabled(), "the forced setting cannot be changed here");
  await shot(alice.page, "org-policy-locked");
  const policy = expectStatus(
    await rest(server.base, "GET", "/orgs/globex/personal-access-token-policy", { login: "alice" }),
    200,
    "globex's policy",
  );
  assert.deepEqual(policy.classic, { value: "restrict", set_by: "enterprise" });
  await alice.context.close();
});
