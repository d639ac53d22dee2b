// The web UI, part 1, as a person uses it in Chromium (issue 10): sign in, generate a
// fine-grained token from a template link for an organization that requires approval and see it
// pending, generate one for the own account and use it on the API, generate a classic token from
// `?scopes=`, edit, regenerate (the old secret fails), delete, sign out (the old cookie no longer
// works). And what must be refused: a cross-site POST, a form without its token, a form with bad
// values (nothing changes). Screenshots of the main pages go to e2e/screenshots/ (to refresh the
// ones in docs/: PATGATE_SCREENSHOTS=docs/screenshots ./scripts/e2e.sh).

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

let server;
let browser;

const skip = browserSkip();

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

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  return { context, page };
}

async function signIn(page, login, password = `${login}-password`) {
  await page.goto(`${server.base}/login`);
  await page.getByLabel("Username").fill(login);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Runs axe-core on the page; serious or critical violations fail the test. */
async function assertAccessible(page, what) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { resultTypes: ["violations"] }),
  );
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

/** The token the page reveals once. */
async function revealedToken(page) {
  const field = page.getByLabel("New token");
  const value = await field.inputValue();
  assert.match(value, /^pg[fp]_[A-Za-z0-9]{36}$/);
  await assert.doesNotReject(page.getByText("You won’t be able to see it again!").waitFor());
  return value;
}

async function cookieHeader(context) {
  const cookies = await context.cookies(server.base);
  return cookies.map((c) => `${c.name}=${c.value}`).join("; ");
}

test("signing in: a wrong password is refused, then the user lands on their tokens", { skip }, async () => {
  const { context, page } = await newPage();
  await page.goto(`${server.base}/settings/personal-access-tokens`);
  assert.match(page.url(), /\/login\?return_to=/, "an anonymous visit asks to sign in");
  await assertAccessible(page, "the sign-in page");
  await shot(page, "sign-in");
  await signIn(page, "bob", "not-his-password");
  await page.getByRole("alert").getByText("Incorrect username or password.").waitFor();
  assert.equal(await page.getByLabel("Username").inputValue(), "bob", "the login is kept");
  await page.getByLabel("Password").fill("bob-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/settings\/personal-access-tokens$/);
  await page.getByRole("heading", { name: "Fine-grained personal access tokens" }).waitFor();
  await page.getByText("You don't have any fine-grained tokens yet").waitFor();
  await assertAccessible(page, "the empty token list");
  await context.close();
});

test("a template link for an organization that requires approval gives a pending token", { skip }, async () => {
  const { context, page } = await newPage();
  await signIn(page, "bob");
  await page.goto(
    `${server.base}/settings/personal-access-tokens/new?name=CI+reader&description=Reads+the+API&target_name=acme&expires_in=45&contents=read`,
  );
  assert.equal(await page.getByLabel("Token name").inputValue(), "CI reader");
  assert.equal(await page.getByLabel("Description").inputValue(), "Reads the API");
  assert.equal(await page.getByLabel("Resource owner").inputValue(), "acme");
  assert.equal(await page.getByLabel("Expiration", { exact: true }).inputValue(), "custom");
  assert.equal(await page.getByLabel("Contents").inputValue(), "read");
  await page.getByText("acme requires an owner to approve fine-grained tokens").waitFor();
  await assertAccessible(page, "the new token form");
  await page.getByLabel("Request message").fill("CI needs to read the API");
  await page.getByLabel("Only select repositories").check();
  await page.getByLabel("acme/api").check();
  await shot(page, "new-fine-grained-token");
  await page.getByRole("button", { name: "Generate token" }).click();
  const secret = await revealedToken(page);
  await page.getByText("It is pending until an owner of acme approves it").waitFor();
  const row = page.getByRole("listitem").filter({ hasText: "CI reader" });
  await row.getByText("Pending", { exact: true }).waitFor();
  await shot(page, "token-created");

  // The API says the same: pending, and the token cannot see the private repository yet.
  const mine = expectStatus(
    await rest(server.base, "GET", "/user/personal-access-tokens", { login: "bob" }),
    200,
    "listing bob's tokens",
  );
  const created = mine.find((t) => t.name === "CI reader");
  assert.equal(created.status, "pending");
  assert.equal(created.resource_owner.login, "acme");
  assert.equal((await rest(server.base, "GET", "/repos/acme/api", { token: secret })).status, 404);
  assert.equal((await rest(server.base, "GET", "/repos/acme/website", { token: secret })).status, 200);

  // The token's page shows the request as asked.
  await row.getByRole("link", { name: "CI reader", exact: true }).click();
  await page.getByText("Pending: an owner of acme has to approve this token").waitFor();
  await page.getByText("CI needs to read the API").waitFor();
  await page.getByRole("cell", { name: /Contents/ }).waitFor();
  await assertAccessible(page, "a token's page");
  await shot(page, "token-page");
  await context.close();
});

test("a token for the own account works on the API at once; edit, regenerate, delete", { skip }, async () => {
  const { context, page } = await newPage();
  await signIn(page, "bob");
  await page.getByRole("link", { name: "Generate new token" }).click();
  await page.getByLabel("Token name").fill("dotfiles reader");
  await page.getByLabel("Only select repositories").check();
  await page.getByLabel("bob/dotfiles").check();
  await page.getByLabel("Contents").selectOption("read");
  await page.getByRole("button", { name: "Generate token" }).click();
  const secret = await revealedToken(page);
  const repo = await rest(server.base, "GET", "/repos/bob/dotfiles", { token: secret });
  assert.equal(repo.status, 200, "the new token reads bob/dotfiles");
  assert.equal(repo.body.full_name, "bob/dotfiles");

  // Edit: add a permission.
  const row = page.getByRole("listitem").filter({ hasText: "dotfiles reader" });
  await row.getByRole("link", { name: "Edit dotfiles reader" }).click();
  await page.getByLabel("Issues").selectOption("write");
  await page.getByRole("button", { name: "Update" }).click();
  await page.getByRole("status").getByText("Your changes were saved.").waitFor();
  await page.getByRole("cell", { name: /Issues/ }).waitFor();

  // Regenerate: the old secret stops working, the new one works.
  await page.getByRole("link", { name: "Regenerate token" }).click();
  await page.getByLabel("New expiration").selectOption("7");
  await page.getByRole("button", { name: "Regenerate token" }).click();
  const renewed = await revealedToken(page);
  assert.notEqual(renewed, secret);
  assert.equal((await rest(server.base, "GET", "/repos/bob/dotfiles", { token: secret })).status, 401);
  assert.equal((await rest(server.base, "GET", "/repos/bob/dotfiles", { token: renewed })).status, 200);

  // Delete, with a confirmation.
  await page.getByRole("listitem").filter({ hasText: "dotfiles reader" })
    .getByRole("link", { name: "Delete dotfiles reader" }).click();
  await page.getByRole("heading", { name: "Delete “dotfiles reader”?" }).waitFor();
  await assertAccessible(page, "the delete confirmation");
  await page.getByRole("button", { name: "I understand, delete this token" }).click();
  await page.getByRole("status").getByText("Deleted the token “dotfiles reader”.").waitFor();
  assert.equal((await rest(server.base, "GET", "/repos/bob/dotfiles", { token: renewed })).status, 401);
  await context.close();
});

test("a classic token pre-filled from ?scopes= carries exactly those scopes", { skip }, async () => {
  const { context, page } = await newPage();
  await signIn(page, "carol");
  await page.goto(`${server.base}/settings/tokens/new?scopes=repo,gist&description=deploy+script`);
  assert.equal(await page.getByLabel("Note").inputValue(), "deploy script");
  assert.ok(await page.getByRole("checkbox", { name: /^repo Full control/ }).isChecked());
  assert.ok(await page.getByRole("checkbox", { name: /^gist/ }).isChecked());
  // Checking repo checks what it includes.
  assert.ok(await page.getByRole("checkbox", { name: /^public_repo/ }).isChecked());
  await assertAccessible(page, "the classic token form");
  await shot(page, "new-classic-token");
  await page.getByRole("button", { name: "Generate token" }).click();
  const secret = await revealedToken(page);
  const user = await rest(server.base, "GET", "/user", { token: secret });
  assert.equal(user.status, 200);
  assert.equal(user.body.login, "carol");
  assert.equal(user.headers.get("x-oauth-scopes"), "repo, gist");
  await shot(page, "classic-tokens");
  await context.close();
});

test("a form with bad values is shown again with its errors and changes nothing", { skip }, async () => {
  const { context, page } = await newPage();
  await signIn(page, "carol");
  const before = expectStatus(
    await rest(server.base, "GET", "/user/personal-access-tokens", { login: "carol" }),
    200,
    "carol's tokens",
  ).length;
  await page.goto(`${server.base}/settings/personal-access-tokens/new`);
  await page.getByLabel("Description").fill("kept after the error");
  await page.getByLabel("Expiration", { exact: true }).selectOption("custom");
  await page.getByLabel("Only select repositories").check();
  await page.getByLabel("Contents").selectOption("write");
  // No name, no date, no repository.
  await page.getByLabel("Token name").evaluate((el) => el.removeAttribute("required"));
  await page.getByRole("button", { name: "Generate token" }).click();
  await page.getByRole("alert").getByText("The token was not generated").waitFor();
  await page.getByText("The expiration date must be between tomorrow and 366 days from today").first().waitFor();
  await page.getByText("Name can't be blank.").first().waitFor();
  assert.equal(await page.getByLabel("Description").inputValue(), "kept after the error");
  assert.equal(await page.getByLabel("Contents").inputValue(), "write");
  assert.equal(await page.getByLabel("Token name").getAttribute("aria-invalid"), "true");
  assert.equal(
    await page.getByLabel("Expiration", { exact: true }).getAttribute("aria-invalid"),
    "true",
  );
  await assertAccessible(page, "a refused form");
  await shot(page, "form-errors");
  const after = expectStatus(
    await rest(server.base, "GET", "/user/personal-access-tokens", { login: "carol" }),
    200,
    "carol's tokens",
  ).length;
  assert.equal(after, before, "nothing was created");
  await context.close();
});

test("a cross-site POST and a POST without the form token are refused", { skip }, async () => {
  const { context, page } = await newPage();
  await signIn(page, "carol");
  await page.goto(`${server.base}/settings/tokens`);
  const cookie = await cookieHeader(context);
  const body = new URLSearchParams({ note: "forged", scopes: "repo", expiration: "30" });
  const formToken = await page.locator('input[name="_csrf"]').first().inputValue();
  // Another site's page posting into the session, as a browser would send it.
  const crossSite = await fetch(`${server.base}/settings/tokens`, {
    method: "POST",
    headers: {
      cookie,
      origin: "https://evil.example",
      "sec-fetch-site": "cross-site",
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ ...Object.fromEntries(body), _csrf: formToken }),
    redirect: "manual",
  });
  assert.equal(crossSite.status, 403, "a cross-site POST is refused");
  // Same site, but without the session's form token.
  const tokenless = await fetch(`${server.base}/settings/tokens`, {
    method: "POST",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body,
    redirect: "manual",
  });
  assert.equal(tokenless.status, 403, "a POST without the form token is refused");
  const classic = expectStatus(
    await rest(server.base, "GET", "/authorizations", { login: "carol" }),
    200,
    "carol's classic tokens",
  );
  assert.ok(!classic.some((t) => t.note === "forged"), "nothing was created");
  await context.close();
});

test("signing out ends the session: the old cookie no longer works", { skip }, async () => {
  const { context, page } = await newPage();
  await signIn(page, "alice");
  await page.goto(`${server.base}/settings/sessions`);
  await page.getByText("This session").waitFor();
  await assertAccessible(page, "the sessions page");
  await shot(page, "sessions");
  const cookie = await cookieHeader(context);
  const signedIn = await fetch(`${server.base}/settings/sessions`, { headers: { cookie }, redirect: "manual" });
  assert.equal(signedIn.status, 200);
  await page.locator("summary", { hasText: "account menu" }).click();
  await page.locator("header").getByRole("button", { name: "Sign out" }).click();
  await page.getByText("You have signed out.").waitFor();
  const after = await fetch(`${server.base}/settings/sessions`, { headers: { cookie }, redirect: "manual" });
  assert.equal(after.status, 303, "the old cookie is sent to sign in");
  assert.match(after.headers.get("location"), /^\/login\?return_to=/);
  await context.close();
});

test("a user whose email is not verified sees why they cannot create tokens", { skip }, async () => {
  const { context, page } = await newPage();
  await signIn(page, "dave");
  await page.getByText("Verify your email address to create tokens.").waitFor();
  assert.equal(await page.getByText("Generate new token").getAttribute("aria-disabled"), "true");
  await context.close();
});
