#!/usr/bin/env python3
"""The seed file of a token mix (scripts/bench-http.sh, scripts/soak.sh): an organization
PREFIXorg with a private repository `app`, ceil(TOKENS / 50) users PREFIX0.. (all owners of it),
and TOKENS tokens dealt round-robin to the users, half fine-grained (all of the organization's
repositories, contents: read), half classic (scope repo). 50 per user: a user may hold 50
fine-grained tokens.

    scripts/mix-seed.py PREFIX TOKENS > seed.toml
"""
import sys


def main() -> None:
    prefix, tokens = sys.argv[1], int(sys.argv[2])
    users = (tokens + 49) // 50
    logins = ["%s%d" % (prefix, u) for u in range(users)]
    print('[[orgs]]\nlogin = "%sorg"\nowners = [%s]\n' % (prefix, ", ".join('"%s"' % l for l in logins)))
    print('[[repos]]\nowner = "%sorg"\nname = "app"\nvisibility = "private"\n' % prefix)
    for login in logins:
        print('[[users]]\nlogin = "%s"\nemail = "%s@example.com"\n' % (login, login))
    for t in range(tokens):
        user = logins[t % users]
        if t % 2 == 0:
            print(
                '[[tokens]]\nuser = "%s"\nkind = "fine_grained"\nname = "%s %d"\n'
                'resource_owner = "%sorg"\nrepository_selection = "all"\n'
                'permissions = { contents = "read" }\n' % (user, prefix, t, prefix)
            )
        else:
            print('[[tokens]]\nuser = "%s"\nkind = "classic"\nname = "%s %d"\nscopes = ["repo"]\n' % (user, prefix, t))


if __name__ == "__main__":
    main()
