// GitHub's own JavaScript client, @octokit/rest, pointed at patgate with `baseUrl`: the eight
// organization methods for fine-grained personal access tokens run unchanged, with filters and
// Link pagination (issue 4).
//
// The test starts the patgate binary (PATGATE_BIN, default ../target/debug/patgate) on
// 127.0.0.1:0 over a fresh SQLite data directory, loaded with e2e/seed.toml; it registers an app
// for acme and mints its installation token with plain fetch (HTTP Basic, as an owner does), has
// bob and carol ask for access, then lets octokit review, list and revoke.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";

import { Octokit } from "@octokit/rest";

import { expectStatus, here, rest as restAt, startServer, stopServer } from "./support.mjs";

const SEED = join(here, "seed.toml");
const org = "acme";

let server;
let octokit;
/** name -> { id, token, login } for the fine-grained tokens asked for in `before`. */
const tokens = {};
/** The newest first, as GitHub lists requests by default. */
const asked = [
  ["bob", "b-api", { repositories: ["api"], permissions: { repository: { contents: "read" } } }],
  ["bob", "b-tools", { repositories: ["tools"], permissions: { repository: { issues: "write" } } }],
  ["bob", "b-both", { repositories: ["api", "tools"], permissions: { repository: { contents: "write" } } }],
  ["carol", "c-api", { repositories: ["api"], permissions: { repository: { contents: "read" } } }],
  ["carol", "c-web", { repositories: ["website"], permissions: { repository: { issues: "read" } } }],
  ["carol", "c-all", { repository_selection: "all", permissions: { repository: { issues: "read" } } }],
];
const newestFirst = asked.map(([, name]) => name).reverse();

const rest = (method, path, options) => restAt(server.base, method, path, options);

/** An Octokit as a GitHub App installation would use it, only `baseUrl` changed. */
function client(auth) {
  return new Octokit({
    auth,
    baseUrl: server.base,
    // Failures are asserted on; keep them out of the test output.
    log: { debug() {}, info() {}, warn: console.warn, error() {} },
  });
}

/** rel -> URL of a Link header. */
function links(header) {
  const out = {};
  for (const part of (header ?? "").split(", ").filter(Boolean)) {
    const m = /^<([^>]+)>; rel="(\w+)"$/.exec(part);
    assert.ok(m, `a Link part as GitHub writes it: ${part}`);
    out[m[2]] = m[1];
  }
  return out;
}

const names = (items) => items.map((r) => r.token_name);
const sorted = (list) => [...list].sort();

/** The request id of a token (by its name). */
async function requestOf(name) {
  const { data } = await octokit.rest.orgs.listPatGrantRequests({
    org,
    token_id: [String(tokens[name].id)],
  });
  assert.equal(data.length, 1, `one request for ${name}`);
  return data[0].id;
}

async function grantOf(name) {
  const { data } = await octokit.rest.orgs.listPatGrants({ org, token_id: [String(tokens[name].id)] });
  assert.equal(data.length, 1, `one grant for ${name}`);
  return data[0].id;
}

before(async () => {
  server = await startServer(SEED);
  const app = expectStatus(
    await rest("POST", `/orgs/${org}/apps`, {
      login: "alice",
      body: {
        name: "reviewer",
        permissions: {
          organization_personal_access_token_requests: "write",
          organization_personal_access_tokens: "write",
        },
      },
    }),
    201,
    "registering the app",
  );
  const installation = expectStatus(
    await rest("POST", `/orgs/${org}/apps/${app.id}/access_tokens`, { login: "alice" }),
    201,
    "minting the installation token",
  );
  assert.ok(installation.token, "an installation token");
  octokit = client(installation.token);
  for (const [login, name, extra] of asked) {
    const created = expectStatus(
      await rest("POST", "/user/personal-access-tokens", {
        login,
        body: { name, resource_owner: org, justification: `${name} for the release`, ...extra },
      }),
      201,
      `creating ${name}`,
    );
    assert.equal(created.status, "pending", `${name} waits for approval`);
    tokens[name] = { id: created.id, token: created.token, login };
  }
});

after(() => stopServer(server));

test("listPatGrantRequests: GitHub's shape and filters", async () => {
  const { status, data, headers } = await octokit.rest.orgs.listPatGrantRequests({
    org,
    per_page: 2,
    owner: ["bob"],
  });
  assert.equal(status, 200);
  assert.deepEqual(names(data), ["b-both", "b-tools"]);
  const rel = links(headers.link);
  assert.deepEqual(Object.keys(rel).sort(), ["last", "next"]);
  assert.match(rel.next, /[?&]page=2(&|$)/);

  const req = data[1];
  assert.equal(req.owner.login, "bob");
  assert.equal(req.reason, "b-tools for the release");
  assert.equal(req.repository_selection, "subset");
  assert.equal(req.token_id, tokens["b-tools"].id);
  assert.notEqual(req.id, req.token_id);
  assert.match(
    req.repositories_url,
    new RegExp(`^${server.base}/organizations/\\d+/personal-access-token-requests/${req.id}/repositories$`),
  );
  assert.deepEqual(req.permissions.repository?.issues, "write");
  assert.equal(req.token_expired, false);
  assert.equal(typeof req.token_expires_at, "string");
  assert.equal(req.token_last_used_at, null);
  assert.equal(typeof req.created_at, "string");

  const all = await octokit.rest.orgs.listPatGrantRequests({ org, per_page: 100, owner: ["bob", "carol"] });
  assert.deepEqual(names(all.data), newestFirst);
  assert.equal(all.headers.link, undefined, "one page, no Link");

  const tools = await octokit.rest.orgs.listPatGrantRequests({ org, repository: "tools" });
  assert.deepEqual(sorted(names(tools.data)), ["b-both", "b-tools", "c-all"]);
  const contents = await octokit.rest.orgs.listPatGrantRequests({ org, permission: "contents_read" });
  assert.deepEqual(sorted(names(contents.data)), ["b-api", "b-both", "c-api"]);
  const byId = await octokit.rest.orgs.listPatGrantRequests({
    org,
    token_id: [String(tokens["c-api"].id), String(tokens["b-api"].id)],
  });
  assert.deepEqual(sorted(names(byId.data)), ["b-api", "c-api"]);
  const asc = await octokit.rest.orgs.listPatGrantRequests({ org, sort: "created_at", direction: "asc" });
  assert.deepEqual(names(asc.data), [...newestFirst].reverse());
  const unused = await octokit.rest.orgs.listPatGrantRequests({ org, last_used_before: "2999-01-01T00:00:00Z" });
  assert.deepEqual(unused.data, []);

  await assert.rejects(
    octokit.rest.orgs.listPatGrantRequests({ org, per_page: 101 }),
    (e) => e.status === 422 && e.response.data.message === "Validation Failed",
  );
});

test("listPatGrantRequests: octokit.paginate walks the Link pages", async () => {
  const pages = [];
  for await (const page of octokit.paginate.iterator(octokit.rest.orgs.listPatGrantRequests, {
    org,
    per_page: 2,
  })) {
    pages.push(names(page.data));
  }
  assert.deepEqual(pages, [newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4, 6)]);

  const all = await octokit.paginate(octokit.rest.orgs.listPatGrantRequests, { org, per_page: 2 });
  assert.deepEqual(names(all), newestFirst);
  // A filter survives into the links.
  const carol = await octokit.paginate(octokit.rest.orgs.listPatGrantRequests, {
    org,
    per_page: 2,
    owner: ["carol"],
  });
  assert.deepEqual(names(carol), ["c-all", "c-web", "c-api"]);

  const middle = await octokit.rest.orgs.listPatGrantRequests({ org, per_page: 2, page: 2 });
  assert.deepEqual(Object.keys(links(middle.headers.link)).sort(), ["first", "last", "next", "prev"]);
  const last = await octokit.rest.orgs.listPatGrantRequests({ org, per_page: 2, page: 3 });
  assert.deepEqual(Object.keys(links(last.headers.link)).sort(), ["first", "prev"]);
});

test("listPatGrantRequestRepositories", async () => {
  const pat_request_id = await requestOf("b-both");
  const { status, data } = await octokit.rest.orgs.listPatGrantRequestRepositories({ org, pat_request_id });
  assert.equal(status, 200);
  assert.deepEqual(sorted(data.map((r) => r.full_name)), ["acme/api", "acme/tools"]);
  assert.ok(data.every((r) => r.private === true && r.owner.login === org));
  const paged = await octokit.paginate(octokit.rest.orgs.listPatGrantRequestRepositories, {
    org,
    pat_request_id,
    per_page: 1,
  });
  assert.deepEqual(sorted(paged.map((r) => r.name)), ["api", "tools"]);
});

test("reviewPatGrantRequest approves and denies one", async () => {
  const before = await rest("GET", "/repos/acme/api", { token: tokens["b-api"].token });
  assert.equal(before.status, 404, "pending: acme/api is not there for the token");

  const approved = await octokit.rest.orgs.reviewPatGrantRequest({
    org,
    pat_request_id: await requestOf("b-api"),
    action: "approve",
  });
  assert.equal(approved.status, 204);
  expectStatus(await rest("GET", "/repos/acme/api", { token: tokens["b-api"].token }), 200, "approved");

  const denied = await octokit.rest.orgs.reviewPatGrantRequest({
    org,
    pat_request_id: await requestOf("c-web"),
    action: "deny",
    reason: "This request is denied because the access is too broad.",
  });
  assert.equal(denied.status, 204);
  const token = expectStatus(
    await rest("GET", `/user/personal-access-tokens/${tokens["c-web"].id}`, { login: "carol" }),
    200,
    "carol's token",
  );
  assert.equal(token.status, "denied");
});

test("reviewPatGrantRequestsInBulk: one bad id changes nothing; then approve and deny", async () => {
  const ids = {};
  for (const name of ["b-tools", "b-both", "c-api", "c-all"]) ids[name] = await requestOf(name);
  const pendingBefore = await octokit.paginate(octokit.rest.orgs.listPatGrantRequests, { org });

  await assert.rejects(
    octokit.rest.orgs.reviewPatGrantRequestsInBulk({
      org,
      pat_request_ids: [ids["b-tools"], 987654, ids["b-both"]],
      action: "approve",
    }),
    (e) => {
      assert.equal(e.status, 422);
      assert.equal(e.response.data.message, "Validation Failed");
      assert.match(JSON.stringify(e.response.data.errors), /987654/, "the bad id is named");
      return true;
    },
  );
  assert.deepEqual(await octokit.paginate(octokit.rest.orgs.listPatGrantRequests, { org }), pendingBefore);

  const approve = await octokit.rest.orgs.reviewPatGrantRequestsInBulk({
    org,
    pat_request_ids: [ids["b-tools"], ids["b-both"], ids["c-api"]],
    action: "approve",
  });
  assert.equal(approve.status, 202);
  assert.deepEqual(approve.data, {});
  const deny = await octokit.rest.orgs.reviewPatGrantRequestsInBulk({
    org,
    pat_request_ids: [ids["c-all"]],
    action: "deny",
    reason: "Access is too broad.",
  });
  assert.equal(deny.status, 202);
  assert.deepEqual((await octokit.rest.orgs.listPatGrantRequests({ org })).data, []);
});

test("listPatGrants: filters and pagination; grant ids are not token ids", async () => {
  const granted = ["b-api", "b-tools", "b-both", "c-api"];
  const all = await octokit.paginate(octokit.rest.orgs.listPatGrants, { org, per_page: 2 });
  assert.deepEqual(sorted(names(all)), sorted(granted));
  for (const g of all) {
    assert.equal(g.token_id, tokens[g.token_name].id);
    assert.equal(typeof g.access_granted_at, "string");
    assert.match(
      g.repositories_url,
      new RegExp(`^${server.base}/organizations/\\d+/personal-access-tokens/${g.id}/repositories$`),
    );
  }
  const first = await octokit.rest.orgs.listPatGrants({ org, per_page: 2 });
  assert.equal(first.data.length, 2);
  assert.deepEqual(Object.keys(links(first.headers.link)).sort(), ["last", "next"]);

  const carol = await octokit.rest.orgs.listPatGrants({ org, owner: ["carol"] });
  assert.deepEqual(names(carol.data), ["c-api"]);
  const tools = await octokit.rest.orgs.listPatGrants({ org, repository: "tools" });
  assert.deepEqual(sorted(names(tools.data)), ["b-both", "b-tools"]);
  const writers = await octokit.rest.orgs.listPatGrants({ org, permission: "contents_write" });
  assert.deepEqual(names(writers.data), ["b-both"]);
  const asc = await octokit.rest.orgs.listPatGrants({ org, direction: "asc", owner: ["bob"] });
  const desc = await octokit.rest.orgs.listPatGrants({ org, direction: "desc", owner: ["bob"] });
  assert.deepEqual(names(asc.data), [...names(desc.data)].reverse());

  // b-api has read acme/api since its approval.
  await new Promise((r) => setTimeout(r, 6_000)); // the server records last use every 5 s
  const used = await octokit.rest.orgs.listPatGrants({ org, last_used_after: "2020-01-01T00:00:00Z" });
  assert.deepEqual(names(used.data), ["b-api"]);
});

test("listPatGrantRepositories", async () => {
  const pat_id = await grantOf("b-both");
  const { status, data } = await octokit.rest.orgs.listPatGrantRepositories({ org, pat_id });
  assert.equal(status, 200);
  assert.deepEqual(sorted(data.map((r) => r.full_name)), ["acme/api", "acme/tools"]);
  await assert.rejects(
    octokit.rest.orgs.listPatGrantRepositories({ org, pat_id: 987654 }),
    (e) => e.status === 404,
  );
});

test("updatePatAccess revokes one grant", async () => {
  const pat_id = await grantOf("b-api");
  const { status } = await octokit.rest.orgs.updatePatAccess({ org, pat_id, action: "revoke" });
  assert.equal(status, 204);
  const token = tokens["b-api"].token;
  expectStatus(await rest("GET", "/repos/acme/api", { token }), 404, "revoked on acme");
  expectStatus(await rest("GET", "/repos/acme/website", { token }), 200, "public stays readable");
  expectStatus(await rest("GET", "/user", { token }), 200, "bob keeps the token");
});

test("updatePatAccesses revokes in bulk, all or nothing", async () => {
  const pat_ids = [await grantOf("b-tools"), await grantOf("b-both")];
  await assert.rejects(
    octokit.rest.orgs.updatePatAccesses({ org, pat_ids: [...pat_ids, 987654], action: "revoke" }),
    (e) => e.status === 422 && /987654/.test(JSON.stringify(e.response.data.errors)),
  );
  assert.equal((await octokit.rest.orgs.listPatGrants({ org })).data.length, 3, "nothing revoked");

  const { status, data } = await octokit.rest.orgs.updatePatAccesses({ org, pat_ids, action: "revoke" });
  assert.equal(status, 202);
  assert.deepEqual(data, {});
  const left = await octokit.rest.orgs.listPatGrants({ org });
  assert.deepEqual(names(left.data), ["c-api"]);
  expectStatus(await rest("GET", "/repos/acme/api", { token: tokens["b-both"].token }), 404, "revoked");
  expectStatus(await rest("GET", "/repos/acme/api", { token: tokens["c-api"].token }), 200, "still granted");
});

test("a personal access token is refused by the organization API", async () => {
  const pat = client(tokens["c-api"].token);
  await assert.rejects(pat.rest.orgs.listPatGrants({ org }), (e) => {
    assert.equal(e.status, 403);
    assert.equal(e.response.data.message, "Resource not accessible by personal access token");
    return true;
  });
  await assert.rejects(
    pat.rest.orgs.reviewPatGrantRequestsInBulk({ org, pat_request_ids: [1], action: "approve" }),
    (e) => e.status === 403,
  );
});
