// What patgate tells people, as people see it in Chromium (issue 12): dave, whose address is not
// verified, asks for a link from the banner, opens it from the email patgate wrote into the data
// directory, verifies, and can then generate a token; an owner adds a webhook in the
// organization's settings, sees its ping delivered, and sends a delivery again; a member's
// denied request arrives as an email that names the reason (rendered for the screenshots).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
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
const SECRET = "It's a Secret to Everybody";

let server;
let browser;
let receiver;
/** What the webhook receiver got: { headers, body }. */
const deliveries = [];

before(async () => {
  if (skip) return;
  receiver = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      deliveries.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  server = await startServer(SEED, [
    "--webhook-allowed-networks",
    "127.0.0.0/8",
    "--outbox-poll-secs",
    "1",
  ]);
  browser = await launchBrowser();
  await mkdir(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await stopServer(server);
  receiver?.close();
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

/** The .eml files patgate wrote for `to` whose subject contains `subject`, waiting up to 15 s. */
async function emails(to, subject) {
  const dir = join(server.dir, "mail");
  const deadline = Date.now() + 15_000;
  for (;;) {
    let found = [];
    try {
      for (const name of (await readdir(dir)).filter((n) => n.endsWith(".eml")).sort()) {
        const text = await readFile(join(dir, name), "utf8");
        const unfolded = text.replace(/\r\n[ \t]+/g, " ");
        if (unfolded.includes(`To: ${to}`) && unfolded.includes(subject)) found.push(text);
      }
    } catch {
      // Not written yet.
    }
    if (found.length) return found;
    assert.ok(Date.now() < deadline, `no email to ${to} about "${subject}" in ${dir}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A MIME part of an .eml file, decoded from quoted-printable. */
function part(eml, type) {
  const start = eml.indexOf(`Content-Type: ${type}`);
  assert.ok(start >= 0, `a ${type} part`);
  const rest = eml.slice(start);
  const body = rest.slice(rest.indexOf("\r\n\r\n") + 4).split("\r\n--")[0];
  const bytes = Buffer.from(
    body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))),
    "latin1",
  );
  return bytes.toString("utf8");
}

test("a user verifies their address from the banner and the email's link", { skip }, async () => {
  const { context, page } = await signedIn("dave");
  const banner = page.getByRole("status").filter({ hasText: "Verify your email address" });
  await assert.doesNotReject(banner.waitFor());
  await assertAccessible(page, "the tokens page with the banner");
  await shot(page, "unverified-banner");
  await page.getByRole("button", { name: "Send a verification email" }).click();
  await page.waitForURL(/\/settings\/personal-access-tokens$/);
  await assert.doesNotReject(
    page.getByText("We sent a verification link to dave@example.com").waitFor(),
  );

  const [mail] = await emails("dave@example.com", "Verify your email address");
  const text = part(mail, "text/plain");
  const link = /(http:\/\/\S+\/settings\/emails\/verify\?code=\S+)/.exec(text)?.[1];
  assert.ok(link, `a link in:\n${text}`);
  const email = await context.newPage();
  await email.setContent(part(mail, "text/html"));
  await shot(email, "email-verify");
  await email.close();

  // Opening the link asks for a click (a mail scanner's visit verifies nothing).
  await page.goto(link);
  await assert.doesNotReject(page.getByRole("heading", { name: "Verify your email address" }).waitFor());
  await assertAccessible(page, "the verification page");
  await page.getByRole("button", { name: "Verify my email address" }).click();
  await assert.doesNotReject(page.getByRole("heading", { name: "Email address verified" }).waitFor());
  await page.getByRole("link", { name: "Go to your tokens" }).click();
  await page.waitForURL(/\/settings\/personal-access-tokens$/);
  assert.equal(await page.getByText("Verify your email address to create tokens.").count(), 0);
  await page.getByRole("link", { name: "Generate new token" }).click();
  await page.waitForURL(/\/new$/);

  // The same link, again: used up.
  await page.goto(link);
  await page.getByRole("button", { name: "Verify my email address" }).click();
  await assert.doesNotReject(page.getByRole("heading", { name: "This link does not work" }).waitFor());
  await context.close();
});

function signed(delivery) {
  const got = String(delivery.headers["x-hub-signature-256"] ?? "");
  const want = `sha256=${createHmac("sha256", SECRET).update(delivery.body).digest("hex")}`;
  return got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
}

test("an owner adds a webhook, sees its deliveries and sends one again", { skip }, async () => {
  const { context, page } = await signedIn("alice");
  await page.goto(`${server.base}/organizations/acme/settings/personal-access-tokens`);
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.waitForURL(/\/settings\/hooks$/);
  await assert.doesNotReject(page.getByRole("heading", { name: "No webhooks yet" }).waitFor());
  await assertAccessible(page, "the webhooks page");

  // A URL patgate cannot deliver to is refused, and what was typed stays.
  await page.getByLabel("Payload URL").fill("ftp://example.com/hook");
  // The browser's own check would stop an ftp URL only for type=url if it were malformed; it
  // is not, so the server answers.
  await page.getByRole("button", { name: "Add webhook" }).click();
  await assert.doesNotReject(page.getByText("The webhook was not added.").waitFor());
  assert.equal(await page.getByLabel("Payload URL").inputValue(), "ftp://example.com/hook");

  const url = `http://127.0.0.1:${receiver.address().port}/patgate`;
  await page.getByLabel("Payload URL").fill(url);
  await page.getByLabel("Secret").fill(SECRET);
  await page.getByRole("button", { name: "Add webhook" }).click();
  await page.waitForURL(/\/settings\/hooks\/\d+$/);
  await assert.doesNotReject(page.getByText("Webhook added. A ping is on its way to it.").waitFor());

  // The ping arrives, signed; the page shows it delivered after a reload.
  const deadline = Date.now() + 15_000;
  while (!deliveries.length) {
    assert.ok(Date.now() < deadline, "the ping never arrived");
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(deliveries[0].headers["x-github-event"], "ping");
  assert.ok(signed(deliveries[0]), "the ping is signed with the secret");
  await page.reload();
  await assert.doesNotReject(page.getByText("Delivered · HTTP 200").first().waitFor());

  // A member asks for access: the webhook hears of it.
  expectStatus(
    await rest(server.base, "POST", "/user/personal-access-tokens", {
      login: "bob",
      body: {
        name: "webhook watched",
        resource_owner: "acme",
        repository_selection: "all",
        permissions: { repository: { issues: "read" } },
      },
    }),
    201,
    "bob asks",
  );
  while (deliveries.length < 2) {
    assert.ok(Date.now() < deadline + 15_000, "the request event never arrived");
    await new Promise((r) => setTimeout(r, 100));
  }
  const event = JSON.parse(deliveries[1].body.toString("utf8"));
  assert.equal(deliveries[1].headers["x-github-event"], "personal_access_token_request");
  assert.equal(event.action, "created");
  assert.equal(event.personal_access_token_request.token_name, "webhook watched");
  assert.ok(signed(deliveries[1]));

  await page.reload();
  await assert.doesNotReject(page.getByText("personal_access_token_request.created").waitFor());
  await assertAccessible(page, "a webhook's page");
  await shot(page, "org-webhook");
  const before = deliveries.length;
  await page.getByRole("button", { name: /^Redeliver delivery/ }).first().click();
  await assert.doesNotReject(page.getByText("The delivery is sent again now.").waitFor());
  while (deliveries.length === before) {
    assert.ok(Date.now() < deadline + 30_000, "the redelivery never arrived");
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(
    deliveries.at(-1).headers["x-github-delivery"],
    deliveries[1].headers["x-github-delivery"],
    "a redelivery is the same delivery",
  );

  // Deleting asks first, then stops the deliveries.
  await page.getByText("Delete webhook", { exact: true }).click();
  await page.getByRole("button", { name: "Yes, delete this webhook" }).click();
  await page.waitForURL(/\/settings\/hooks$/);
  await assert.doesNotReject(page.getByText("Webhook deleted.").waitFor());
  await context.close();
});

test("a denied request arrives by email with the reviewer's reason", { skip }, async () => {
  const created = expectStatus(
    await rest(server.base, "POST", "/user/personal-access-tokens", {
      login: "carol",
      body: {
        name: "nightly export",
        resource_owner: "acme",
        repository_selection: "all",
        permissions: { repository: { contents: "write" } },
        justification: "The nightly export job",
      },
    }),
    201,
    "carol asks",
  );
  const { context, page } = await signedIn("alice");
  await page.goto(`${server.base}/organizations/acme/settings/personal-access-token-requests`);
  await page.getByRole("link", { name: "nightly export", exact: true }).click();
  await page.getByRole("link", { name: "Deny…" }).click();
  await page
    .getByLabel("Reason (optional)")
    .fill("Write access to every repository is too broad; ask for tools only.");
  await page.getByRole("button", { name: "Deny", exact: true }).click();
  await page.getByRole("status").getByText("Denied 1 request.").waitFor();
  const [mail] = await emails("carol@example.com", "denied your token");
  const text = part(mail, "text/plain");
  assert.match(text, /too broad; ask for tools only/);
  assert.match(text, new RegExp(`/settings/personal-access-tokens/${created.id}/edit`));
  const view = await context.newPage();
  await view.setViewportSize({ width: 720, height: 900 });
  await view.setContent(part(mail, "text/html"));
  await shot(view, "email-request-denied");
  await context.close();
});
