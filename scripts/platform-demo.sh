#!/usr/bin/env bash
# patgate as a platform's token service (issue 13, docs/platform.md), end to end on one machine:
#
#   1. starts patgate (SQLite in a temporary directory) with a service credential, a tiny
#      upstream API (demo/platform/upstream.py) and Debian's nginx in front of it
#      (demo/platform/nginx.conf), each as a plain process on a free loopback port;
#   2. builds the directory through the directory API: users, an organization, repositories,
#      a membership;
#   3. mints tokens (the users' own token API);
#   4. shows allowed requests reaching the upstream with patgate's identity headers, and refused
#      ones answered by patgate (403, 404, 401) without reaching it;
#   5. removes a member through the directory API, and shows their tokens refused on the next
#      request.
#
# Needs nginx (apt-get install -y nginx), python3, curl. Every answer is checked: the script
# exits non-zero when one differs from what is shown. PATGATE_BIN overrides the binary (its
# build is then skipped); PATGATE_DEMO_KEEP=1 leaves the processes running (their URLs are
# printed) until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in nginx python3 curl; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "platform-demo: $tool is required" >&2
    exit 1
  fi
done
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

if [ -z "${PATGATE_BIN:-}" ]; then
  echo "== cargo build --bin patgate"
  cargo build --quiet --bin patgate
  target_dir="${CARGO_TARGET_DIR:-target}"
  PATGATE_BIN="$target_dir/debug/patgate"
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_for() { # host:port
  for _ in $(seq 1 250); do
    if (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; then return 0; fi
    sleep 0.02
  done
  echo "platform-demo: nothing listens on $1" >&2
  exit 1
}
json_field() { # FIELD < json
  python3 -c 'import json, sys; v = json.load(sys.stdin)
for k in sys.argv[1].split("."): v = v[int(k)] if isinstance(v, list) else v.get(k)
print("" if v is None else v)' "$1"
}

PATGATE="127.0.0.1:$(free_port)"
UPSTREAM="127.0.0.1:$(free_port)"
PROXY="127.0.0.1:$(free_port)"

echo "== a service credential for the platform"
"$PATGATE_BIN" service-credential create --name platform --scope directory --scope authorize >"$work/credential.txt"
SERVICE="$(sed -n 's/^  \(pgsvc_[A-Za-z0-9]*\)$/\1/p' "$work/credential.txt")"
sed -n '/^\[\[credentials\]\]/,$p' "$work/credential.txt" >"$work/services.toml"
cat "$work/services.toml"

echo "== patgate on $PATGATE, the upstream on $UPSTREAM, nginx on $PROXY"
PATGATE_INSECURE_FAST_PASSWORDS=1 PATGATE_LOG=warn "$PATGATE_BIN" serve --bind "$PATGATE" \
  --data-dir "$work/data" --service-credentials-file "$work/services.toml" >"$work/patgate.log" 2>&1 &
pids+=($!)
python3 demo/platform/upstream.py "$UPSTREAM" &
pids+=($!)
mkdir -p "$work/nginx"
sed -e "s|@LISTEN@|$PROXY|; s|@PATGATE@|$PATGATE|; s|@UPSTREAM@|$UPSTREAM|; s|@PREFIX@|$work/nginx|g" \
  demo/platform/nginx.conf >"$work/nginx/nginx.conf"
"$NGINX" -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" -g 'daemon off;' &
pids+=($!)
wait_for "$PATGATE"; wait_for "$UPSTREAM"; wait_for "$PROXY"

# call EXPECTED METHOD URL [curl args...]: prints the answer, checks its status.
call() {
  local expected="$1" method="$2" url="$3"
  shift 3
  local status
  status="$(curl -s -o "$work/body" -w '%{http_code}' -X "$method" "$@" "$url")"
  printf '%s %-7s %-60s -> %s %s\n' "$([ "$status" = "$expected" ] && echo ok || echo FAIL)" \
    "$method" "${url#http://}" "$status" "$(head -c 220 "$work/body")"
  [ "$status" = "$expected" ] || exit 1
}
admin() { # EXPECTED METHOD PATH [JSON]
  call "$1" "$2" "http://$PATGATE$3" -H "Authorization: Bearer $SERVICE" ${4:+-d "$4"}
}

echo
echo "== the directory, through the directory API (service credential)"
admin 201 POST /admin/users '{"login": "alice", "email": "alice@example.com", "password": "alice-password"}'
admin 201 POST /admin/users '{"login": "bob", "email": "bob@example.com", "password": "bob-password"}'
admin 201 POST /admin/organizations '{"login": "acme", "admin": "alice"}'
admin 200 PUT /orgs/acme/memberships/bob '{"role": "member"}'
admin 201 POST /orgs/acme/repos '{"name": "api", "private": true}'
admin 201 POST /orgs/acme/repos '{"name": "site", "visibility": "public"}'
# A user's token is never a service credential.
call 403 POST "http://$PATGATE/admin/users" -u alice:alice-password -d '{"login": "eve", "email": "eve@example.com"}'

echo
echo "== tokens (the users' own API; acme approves fine-grained tokens at once)"
call 200 PUT "http://$PATGATE/orgs/acme/personal-access-token-policy" -u alice:alice-password -d '{"approval": "disable"}'
call 201 POST "http://$PATGATE/authorizations" -u bob:bob-password -d '{"note": "laptop", "scopes": ["repo"]}'
BOB_CLASSIC="$(json_field token <"$work/body")"
call 201 POST "http://$PATGATE/user/personal-access-tokens" -u bob:bob-password \
  -d '{"name": "ci", "resource_owner": "acme", "repositories": ["api"], "permissions": {"repository": {"contents": "read", "issues": "read"}}}'
BOB_FINE="$(json_field token <"$work/body")"
BOB_FINE_ID="$(json_field id <"$work/body")"

echo
echo "== through nginx: allowed requests reach the upstream, with who the caller is"
call 200 GET "http://$PROXY/repos/acme/api/issues" -H "Authorization: Bearer $BOB_CLASSIC"
[ "$(json_field user <"$work/body")" = bob ] || { echo "the upstream was not told the user"; exit 1; }
call 200 GET "http://$PROXY/repos/acme/api/contents/README.md" -H "Authorization: Bearer $BOB_FINE"
# issues=read or pull_requests=read: one of the route's permission sets suffices.
call 200 GET "http://$PROXY/repos/acme/api/issues/1/labels" -H "Authorization: Bearer $BOB_FINE"
call 200 GET "http://$PROXY/repos/acme/site/issues"
hits="$(json_field hits <"$work/body")"

echo
echo "== through nginx: refused requests are answered by patgate and never reach the upstream"
call 403 PUT "http://$PROXY/repos/acme/api/contents/README.md" -H "Authorization: Bearer $BOB_FINE" -d '{}'
call 403 DELETE "http://$PROXY/repos/acme/api" -H "Authorization: Bearer $BOB_CLASSIC"
call 404 GET "http://$PROXY/repos/acme/api/issues"
call 401 GET "http://$PROXY/repos/acme/api/issues" -H "Authorization: Bearer pgp_not_a_token"
call 404 GET "http://$PROXY/no/such/route" -H "Authorization: Bearer $BOB_CLASSIC"
call 200 GET "http://$PROXY/repos/acme/site"
[ "$(json_field hits <"$work/body")" = "$((hits + 1))" ] || { echo "a refused request reached the upstream"; exit 1; }

echo
echo "== why? bob asks why his token may not write the file"
call 200 POST "http://$PATGATE/user/personal-access-tokens/$BOB_FINE_ID/why" -u bob:bob-password -d '{"route": {"method": "PUT", "path": "/repos/acme/api/contents/README.md"}}'

echo
echo "== bob leaves acme (directory API): his tokens are refused on the next request"
admin 204 DELETE /orgs/acme/members/bob
call 404 GET "http://$PROXY/repos/acme/api/issues" -H "Authorization: Bearer $BOB_CLASSIC"
call 404 GET "http://$PROXY/repos/acme/api/contents/README.md" -H "Authorization: Bearer $BOB_FINE"
# Public reads still pass (rule 2).
call 200 GET "http://$PROXY/repos/acme/site/issues" -H "Authorization: Bearer $BOB_FINE"

echo
echo "platform-demo: every answer was as shown"
if [ "${PATGATE_DEMO_KEEP:-}" = 1 ]; then
  echo "patgate http://$PATGATE  nginx http://$PROXY  upstream http://$UPSTREAM  (Ctrl-C to stop)"
  wait
fi
