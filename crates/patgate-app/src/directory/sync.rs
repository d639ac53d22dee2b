//! The whole directory at once: `PUT /admin/directory` and `patgate directory sync`, reconciled
//! in one transaction from the seed format (the single-record verbs are in the parent module).

use super::*;

impl App {
    // -----------------------------------------------------------------------------------------
    // The whole directory
    // -----------------------------------------------------------------------------------------

    /// `PUT /admin/directory`: reconciles the directory with `desired` (the seed format without
    /// tokens and policies) in one transaction, all or nothing. Users, enterprises,
    /// organizations and repositories listed are created or updated (records not listed stay);
    /// for each organization, repository and enterprise listed, its owners and members, its
    /// collaborators, its owners are exactly the lists: anyone else is removed, members
    /// offboarded as [`App::admin_remove_member`] does. `dry_run` computes the same changes in
    /// a transaction rolled back. Running it twice changes nothing the second time.
    pub async fn sync_directory(
        &self,
        by: &Operator,
        desired: &SeedFile,
        dry_run: bool,
    ) -> DirectoryResult<SyncReport> {
        self.check_sync(desired).await?;
        for attempt in 1..=RETRIES {
            let (ops, targets, governance) = self.plan_sync(by, desired).await?;
            let forget = if ops.iter().any(|op| {
                matches!(
                    op.change,
                    DirectoryChange::DeleteUser { .. }
                        | DirectoryChange::DeleteRepo { .. }
                        | DirectoryChange::TransferRepo { .. }
                )
            }) {
                Forget::Everything
            } else {
                Forget::Directory
            };
            let actions: Vec<String> = ops
                .iter()
                .map(|op| {
                    op.audit
                        .as_ref()
                        .map_or_else(String::new, |a| a.action.clone())
                })
                .collect();
            match self.run_batch(ops, governance, forget, dry_run).await {
                Err(DirectoryError::App(AppError::Conflict(_))) if attempt < RETRIES => continue,
                Err(e) => return Err(e),
                Ok(outcomes) => {
                    let mut report = SyncReport {
                        dry_run,
                        ..SyncReport::default()
                    };
                    for ((outcome, action), target) in
                        outcomes.into_iter().zip(actions).zip(targets)
                    {
                        if outcome.changed() {
                            report.changes.push(SyncChange {
                                action,
                                target,
                                outcome,
                            });
                        } else {
                            report.unchanged += 1;
                        }
                    }
                    return Ok(report);
                }
            }
        }
        Err(AppError::Conflict("the directory kept changing; try again".into()).into())
    }

    /// Every problem of a sync's body, at once, before anything is read for the plan.
    async fn check_sync(&self, d: &SeedFile) -> DirectoryResult<()> {
        let mut problems = Vec::new();
        let mut p = |resource: &'static str, field: String, code: ErrorCode, message: String| {
            problems.push(Problem::new(resource, field, code, message));
        };
        if !d.tokens.is_empty() {
            p(
                "Directory",
                "tokens".into(),
                ErrorCode::Invalid,
                "a sync does not create tokens: users create their own".into(),
            );
        }
        let store = self.store();
        let mut users: HashMap<String, usize> = HashMap::new();
        for (i, u) in d.users.iter().enumerate() {
            if let Some(m) = login_problem(&u.login) {
                p("User", format!("users[{i}].login"), ErrorCode::Invalid, m);
            }
            if let Some(m) = email_problem(&u.email) {
                p("User", format!("users[{i}].email"), ErrorCode::Invalid, m);
            }
            if users.insert(u.login.to_ascii_lowercase(), i).is_some() {
                p(
                    "User",
                    format!("users[{i}].login"),
                    ErrorCode::AlreadyExists,
                    format!("{} is listed twice", u.login),
                );
            }
        }
        let mut enterprises: BTreeSet<String> = BTreeSet::new();
        for (i, e) in d.enterprises.iter().enumerate() {
            if e.policy.is_some() {
                p(
                    "Enterprise",
                    format!("enterprises[{i}].policy"),
                    ErrorCode::Invalid,
                    "policies belong to the enterprise's owners, not to the directory".into(),
                );
            }
            if let Some(m) = login_problem(&e.slug) {
                p(
                    "Enterprise",
                    format!("enterprises[{i}].slug"),
                    ErrorCode::Invalid,
                    m.replace("login", "slug"),
                );
            }
            if !enterprises.insert(e.slug.to_ascii_lowercase()) {
                p(
                    "Enterprise",
                    format!("enterprises[{i}].slug"),
                    ErrorCode::AlreadyExists,
                    format!("{} is listed twice", e.slug),
                );
            }
        }
        // Whether a login names a user, in the file or already in the directory.
        let mut known_users: HashMap<String, bool> = HashMap::new();
        let mut is_user = async |login: &str| -> Result<bool, AppError> {
            let key = login.to_ascii_lowercase();
            if users.contains_key(&key) {
                return Ok(true);
            }
            if let Some(hit) = known_users.get(&key) {
                return Ok(*hit);
            }
            let found = store.user_by_login(login).await?.is_some();
            known_users.insert(key, found);
            Ok(found)
        };
        let mut orgs: HashMap<String, Option<String>> = HashMap::new();
        let mut org_problems = Vec::new();
        for (i, o) in d.orgs.iter().enumerate() {
            let at = format!("orgs[{i}]");
            if o.policy.is_some() {
                org_problems.push(Problem::new("Organization", format!("{at}.policy"), ErrorCode::Invalid, "policies belong to the organization's owners (PUT /orgs/{org}/personal-access-token-policy), not to the directory"));
            }
            if let Some(m) = login_problem(&o.login) {
                org_problems.push(Problem::new(
                    "Organization",
                    format!("{at}.login"),
                    ErrorCode::Invalid,
                    m,
                ));
            }
            if users.contains_key(&o.login.to_ascii_lowercase())
                || matches!(
                    store.account_by_login(&o.login).await?,
                    Some(Account::User(_))
                )
            {
                org_problems.push(Problem::new(
                    "Organization",
                    format!("{at}.login"),
                    ErrorCode::AlreadyExists,
                    format!("{} is a user", o.login),
                ));
            }
            if orgs
                .insert(o.login.to_ascii_lowercase(), o.enterprise.clone())
                .is_some()
            {
                org_problems.push(Problem::new(
                    "Organization",
                    format!("{at}.login"),
                    ErrorCode::AlreadyExists,
                    format!("{} is listed twice", o.login),
                ));
            }
            if let Some(b) = &o.base_permission
                && RepoRole::parse(b).is_none()
            {
                org_problems.push(Problem::new(
                    "Organization",
                    format!("{at}.base_permission"),
                    ErrorCode::Invalid,
                    format!("unknown role {b:?}: read, triage, write, maintain or admin"),
                ));
            }
            if let Some(slug) = &o.enterprise
                && !enterprises.contains(&slug.to_ascii_lowercase())
                && store.enterprise_by_slug(slug).await?.is_none()
            {
                org_problems.push(Problem::new(
                    "Organization",
                    format!("{at}.enterprise"),
                    ErrorCode::Invalid,
                    format!("no enterprise {slug:?}"),
                ));
            }
            let mut seen = BTreeSet::new();
            for (list, logins) in [("owners", &o.owners), ("members", &o.members)] {
                for (j, login) in logins.iter().enumerate() {
                    if !is_user(login).await? {
                        org_problems.push(Problem::new(
                            "Organization",
                            format!("{at}.{list}[{j}]"),
                            ErrorCode::Invalid,
                            format!("no user {login:?}"),
                        ));
                    }
                    if !seen.insert(login.to_ascii_lowercase()) {
                        org_problems.push(Problem::new(
                            "Organization",
                            format!("{at}.{list}[{j}]"),
                            ErrorCode::AlreadyExists,
                            format!("{login} is listed twice"),
                        ));
                    }
                }
            }
        }
        for (i, e) in d.enterprises.iter().enumerate() {
            for (j, login) in e.owners.iter().enumerate() {
                if !is_user(login).await? {
                    org_problems.push(Problem::new(
                        "Enterprise",
                        format!("enterprises[{i}].owners[{j}]"),
                        ErrorCode::Invalid,
                        format!("no user {login:?}"),
                    ));
                }
            }
        }
        let mut repos = BTreeSet::new();
        for (i, r) in d.repos.iter().enumerate() {
            let at = format!("repos[{i}]");
            if let Some(m) = repo_name_problem(&r.name) {
                org_problems.push(Problem::new(
                    "Repository",
                    format!("{at}.name"),
                    ErrorCode::Invalid,
                    m,
                ));
            }
            if let Some(m) = r.description.as_deref().and_then(description_problem) {
                org_problems.push(Problem::new(
                    "Repository",
                    format!("{at}.description"),
                    ErrorCode::Invalid,
                    m,
                ));
            }
            if !repos.insert((r.owner.to_ascii_lowercase(), r.name.to_ascii_lowercase())) {
                org_problems.push(Problem::new(
                    "Repository",
                    format!("{at}.name"),
                    ErrorCode::AlreadyExists,
                    format!("{}/{} is listed twice", r.owner, r.name),
                ));
            }
            // The owner's enterprise after the sync: the file's, else the directory's.
            let owner_enterprise = match orgs.get(&r.owner.to_ascii_lowercase()) {
                Some(e) => Some(e.is_some()),
                None => match store.account_by_login(&r.owner).await? {
                    Some(Account::Organization(o)) => Some(o.enterprise.is_some()),
                    Some(Account::User(_)) => Some(false),
                    None if users.contains_key(&r.owner.to_ascii_lowercase()) => Some(false),
                    None => None,
                },
            };
            match Visibility::parse(&r.visibility) {
                None => org_problems.push(Problem::new(
                    "Repository",
                    format!("{at}.visibility"),
                    ErrorCode::Invalid,
                    format!("{:?} is not public, private or internal", r.visibility),
                )),
                Some(Visibility::Internal) if owner_enterprise == Some(false) => {
                    org_problems.push(Problem::new(
                        "Repository",
                        format!("{at}.visibility"),
                        ErrorCode::Invalid,
                        "internal repositories belong to an organization of an enterprise",
                    ))
                }
                Some(_) => {}
            }
            if owner_enterprise.is_none() {
                org_problems.push(Problem::new(
                    "Repository",
                    format!("{at}.owner"),
                    ErrorCode::Invalid,
                    format!("no user or organization {:?}", r.owner),
                ));
            }
            let mut seen = BTreeSet::new();
            for (j, c) in r.collaborators.iter().enumerate() {
                if RepoRole::parse(&c.role).is_none() {
                    org_problems.push(Problem::new(
                        "Repository",
                        format!("{at}.collaborators[{j}].role"),
                        ErrorCode::Invalid,
                        format!(
                            "unknown role {:?}: read, triage, write, maintain or admin",
                            c.role
                        ),
                    ));
                }
                if !is_user(&c.login).await? {
                    org_problems.push(Problem::new(
                        "Repository",
                        format!("{at}.collaborators[{j}].login"),
                        ErrorCode::Invalid,
                        format!("no user {:?}", c.login),
                    ));
                }
                if !seen.insert(c.login.to_ascii_lowercase()) {
                    org_problems.push(Problem::new(
                        "Repository",
                        format!("{at}.collaborators[{j}].login"),
                        ErrorCode::AlreadyExists,
                        format!("{} is listed twice", c.login),
                    ));
                }
            }
        }
        problems.extend(org_problems);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DirectoryError::Invalid(problems))
        }
    }

    /// The ops of a sync (with what each acts on, for the report) and the token changes of the
    /// memberships it ends or starts.
    async fn plan_sync(
        &self,
        by: &Operator,
        d: &SeedFile,
    ) -> DirectoryResult<(Vec<DirectoryOp>, Vec<String>, Changes)> {
        let store = self.store();
        let now = self.now();
        let mut ops = Vec::new();
        let mut targets = Vec::new();
        let mut governance = Changes::default();
        let mut push = |ops: &mut Vec<DirectoryOp>, op: DirectoryOp, target: String| {
            ops.push(op);
            targets.push(target);
        };
        for u in &d.users {
            let existing = store.user_by_login(&u.login).await?;
            let password_hash = match (&u.password, &existing) {
                (Some(pw), Some(user)) => match store.user_password_hash(user.id).await? {
                    Some(h) if auth::verify_password(&h, pw) => None,
                    _ => Some(auth::hash_password(&self.config().password_hashing, pw)?),
                },
                (Some(pw), None) => Some(auth::hash_password(&self.config().password_hashing, pw)?),
                (None, _) => None,
            };
            let action = if existing.is_some() {
                "user.update"
            } else {
                "user.create"
            };
            let op = self.op(
                DirectoryChange::UpsertUser(NewUser {
                    login: u.login.clone(),
                    email: u.email.clone(),
                    email_verified: u.email_verified,
                    site_admin: u.site_admin,
                    password_hash,
                }),
                by,
                action,
                json!({"user": u.login}),
            );
            push(&mut ops, op, u.login.clone());
        }
        for e in &d.enterprises {
            let op = self.op(
                DirectoryChange::UpsertEnterprise {
                    slug: e.slug.clone(),
                },
                by,
                "business.create",
                json!({"business": e.slug}),
            );
            push(&mut ops, op, e.slug.clone());
        }
        for o in &d.orgs {
            let base = o
                .base_permission
                .as_deref()
                .and_then(RepoRole::parse)
                .unwrap_or(RepoRole::Read);
            let existing = store.org_by_login(&o.login).await?;
            let op = self.op(
                DirectoryChange::UpsertOrg { login: o.login.clone(), enterprise: o.enterprise.clone(), base_permission: base },
                by,
                if existing.is_some() { "org.update" } else { "org.create" },
                json!({"org": o.login, "enterprise": o.enterprise, "base_permission": base.as_str()}),
            );
            push(&mut ops, op, o.login.clone());
            // Members: exactly the lists (an owner listed in both ends up a member, as in the seed).
            let mut desired: BTreeMap<String, (String, OrgRole)> = BTreeMap::new();
            for login in &o.owners {
                desired.insert(login.to_ascii_lowercase(), (login.clone(), OrgRole::Owner));
            }
            for login in &o.members {
                desired.insert(login.to_ascii_lowercase(), (login.clone(), OrgRole::Member));
            }
            let current: Vec<(User, OrgRole)> = match &existing {
                Some(org) => store.org_members(org.id).await?,
                None => Vec::new(),
            };
            let current_roles: HashMap<String, OrgRole> = current
                .iter()
                .map(|(u, r)| (u.login.to_ascii_lowercase(), *r))
                .collect();
            for (key, (login, role)) in &desired {
                let action = match current_roles.get(key) {
                    Some(r) if r == role => "org.update_member",
                    Some(_) => "org.update_member",
                    None => "org.add_member",
                };
                if let (None, Some(org)) = (current_roles.get(key), &existing)
                    && let Some(user) = store.user_by_login(login).await?
                {
                    let standings = store.standings_in_org(user.id, org.id).await?;
                    governance =
                        governance.merge(governance::rejoin(org.id, user.id, &standings, now));
                }
                let op = self.op(
                    DirectoryChange::SetMembership {
                        org: o.login.clone(),
                        user: login.clone(),
                        role: *role,
                    },
                    by,
                    action,
                    json!({"org": o.login, "user": login, "permission": org_role_name(*role)}),
                );
                push(&mut ops, op, format!("{}/{login}", o.login));
            }
            if let Some(org) = &existing {
                for (user, _) in &current {
                    if desired.contains_key(&user.login.to_ascii_lowercase()) {
                        continue;
                    }
                    let standings = store.standings_in_org(user.id, org.id).await?;
                    // The member the sync removes is told of each grant it revokes.
                    governance =
                        governance.merge(governance::lose_access(org.id, user.id, &standings, now));
                    let op = self.op(
                        DirectoryChange::RemoveMembership {
                            org: org.login.clone(),
                            user: user.login.clone(),
                        },
                        by,
                        "org.remove_member",
                        json!({"org": org.login, "user": user.login}),
                    );
                    push(&mut ops, op, format!("{}/{}", org.login, user.login));
                }
            }
        }
        for e in &d.enterprises {
            let desired: BTreeSet<String> =
                e.owners.iter().map(|l| l.to_ascii_lowercase()).collect();
            for login in &e.owners {
                let op = self.op(
                    DirectoryChange::SetEnterpriseOwner {
                        slug: e.slug.clone(),
                        user: login.clone(),
                        owner: true,
                    },
                    by,
                    "business.add_admin",
                    json!({"business": e.slug, "user": login}),
                );
                push(&mut ops, op, format!("{}/{login}", e.slug));
            }
            if let Some(ent) = store.enterprise_by_slug(&e.slug).await? {
                for owner in store.enterprise_owners(ent.id).await? {
                    if desired.contains(&owner.login.to_ascii_lowercase()) {
                        continue;
                    }
                    let op = self.op(
                        DirectoryChange::SetEnterpriseOwner {
                            slug: e.slug.clone(),
                            user: owner.login.clone(),
                            owner: false,
                        },
                        by,
                        "business.remove_admin",
                        json!({"business": e.slug, "user": owner.login}),
                    );
                    push(&mut ops, op, format!("{}/{}", e.slug, owner.login));
                }
            }
        }
        for r in &d.repos {
            let visibility = Visibility::parse(&r.visibility).unwrap_or(Visibility::Private);
            let existing = store.repo_by_name(&r.owner, &r.name).await?;
            let full = format!("{}/{}", r.owner, r.name);
            let op = self.op(
                DirectoryChange::UpsertRepo {
                    owner: r.owner.clone(),
                    name: r.name.clone(),
                    visibility,
                    description: r.description.clone(),
                },
                by,
                if existing.is_some() {
                    "repo.update"
                } else {
                    "repo.create"
                },
                json!({"repo": full, "visibility": visibility.as_str()}),
            );
            push(&mut ops, op, full.clone());
            let mut desired: BTreeSet<String> = BTreeSet::new();
            let current: Vec<(User, RepoRole)> = match &existing {
                Some(repo) => store.collaborators(repo.id).await?,
                None => Vec::new(),
            };
            let current_roles: HashMap<String, RepoRole> = current
                .iter()
                .map(|(u, r)| (u.login.to_ascii_lowercase(), *r))
                .collect();
            for c in &r.collaborators {
                let role = RepoRole::parse(&c.role).unwrap_or(RepoRole::Read);
                desired.insert(c.login.to_ascii_lowercase());
                let action = if current_roles.contains_key(&c.login.to_ascii_lowercase()) {
                    "repo.update_member"
                } else {
                    "repo.add_member"
                };
                let op = self.op(
                    DirectoryChange::SetCollaborator {
                        owner: r.owner.clone(),
                        name: r.name.clone(),
                        user: c.login.clone(),
                        role,
                    },
                    by,
                    action,
                    json!({"repo": full, "user": c.login, "permission": role.as_str()}),
                );
                push(&mut ops, op, format!("{full}/{}", c.login));
            }
            for (user, _) in &current {
                if desired.contains(&user.login.to_ascii_lowercase()) {
                    continue;
                }
                let op = self.op(
                    DirectoryChange::RemoveCollaborator {
                        owner: r.owner.clone(),
                        name: r.name.clone(),
                        user: user.login.clone(),
                    },
                    by,
                    "repo.remove_member",
                    json!({"repo": full, "user": user.login}),
                );
                push(&mut ops, op, format!("{full}/{}", user.login));
            }
        }
        Ok((ops, targets, governance))
    }
}
