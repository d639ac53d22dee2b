//! The audit log: written in the transaction of the change, filtered by the query.

use patgate_domain::model::{AccountId, TokenId};
use patgate_domain::policy::PolicySettings;

use super::{at, classic, event, fine_grained, hash, insert, org, user};
use crate::{AuditEvent, AuditQuery, NewAuditEvent, Store, StoreError};

fn actions(events: &[AuditEvent]) -> Vec<&str> {
    events.iter().map(|e| e.action.as_str()).collect()
}

pub async fn audit_rows_are_written_with_the_change(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let create = NewAuditEvent {
        action: "personal_access_token.request_created".into(),
        actor: Some(mona.id),
        actor_login: Some("mona".into()),
        org: Some(o.id),
        token_id: None,
        data: serde_json::json!({
            "user_programmatic_access_name": "deploy",
            "repository_selection": "subset",
            "permissions": { "repository": { "contents": "write" } },
            "repositories": [1, 2],
        }),
        created_at: at(10),
    };
    let explicit = NewAuditEvent {
        token_id: Some(TokenId(424_242)),
        ..event("custom.explicit_token", at(10))
    };
    let t = store
        .insert_token(
            &fine_grained(mona.id, "t", at(10)),
            &[create.clone(), explicit.clone()],
        )
        .await
        .unwrap();

    let rows = store.audit_events(&AuditQuery::default()).await.unwrap();
    assert_eq!(rows.len(), 2);
    // Same second: the later insert comes first.
    assert_eq!(rows[0].action, explicit.action);
    assert_eq!(
        rows[0].token_id,
        Some(TokenId(424_242)),
        "an explicit token id is kept"
    );
    let row = &rows[1];
    assert!(row.id < rows[0].id);
    assert_eq!(
        row,
        &AuditEvent {
            id: row.id,
            action: create.action.clone(),
            actor: Some(mona.id),
            actor_login: Some("mona".into()),
            org: Some(o.id),
            // Unknown to the caller before the insert: filled in by the store.
            token_id: Some(t.id),
            data: create.data.clone(),
            created_at: at(10),
        }
    );

    store
        .update_token(
            t.id,
            Some("edited"),
            &t.grant,
            &[event("personal_access_token.update", at(20))],
        )
        .await
        .unwrap();
    store
        .regenerate_token(
            t.id,
            &hash("t2"),
            "t2t2t2t2",
            at(30),
            None,
            &[event("personal_access_token.regenerate", at(30))],
        )
        .await
        .unwrap();
    store
        .append_audit(&event("org.update_member", at(40)))
        .await
        .unwrap();
    store
        .delete_token(t.id, &[event("personal_access_token.destroy", at(50))])
        .await
        .unwrap();
    let rows = store
        .audit_events(&AuditQuery {
            token_id: Some(t.id),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(
        actions(&rows),
        [
            "personal_access_token.destroy",
            "personal_access_token.regenerate",
            "personal_access_token.update",
            "personal_access_token.request_created",
        ]
    );
    let all = store.audit_events(&AuditQuery::default()).await.unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[1].action, "org.update_member");
    assert_eq!(all[1].token_id, None);
    assert_eq!(
        all[1].data,
        serde_json::json!({ "action": "org.update_member" })
    );
}

pub async fn audit_events_filter_by_query(store: &dyn Store) {
    let o1 = AccountId(1001);
    let o2 = AccountId(1002);
    let t1 = TokenId(77);
    let e = |action: &str, org: Option<AccountId>, actor: Option<&str>, secs: i64| NewAuditEvent {
        org,
        actor_login: actor.map(str::to_owned),
        actor: actor.map(|_| AccountId(5)),
        ..event(action, at(secs))
    };
    let events = [
        NewAuditEvent {
            token_id: Some(t1),
            ..e("a.one", Some(o1), Some("Alice"), 10)
        },
        e("a.two", Some(o1), Some("bob"), 20),
        e("a.one", Some(o2), Some("alice"), 30),
        e("a.one", None, None, 30),
    ];
    for ev in &events {
        store.append_audit(ev).await.unwrap();
    }
    // Names for the expected lists: e1..e4 in insertion order.
    let label = |rows: Vec<AuditEvent>| -> Vec<String> {
        rows.iter()
            .map(|r| {
                let i = events
                    .iter()
                    .position(|ev| {
                        ev.action == r.action
                            && ev.org == r.org
                            && ev.actor_login == r.actor_login
                            && ev.created_at == r.created_at
                    })
                    .expect("a known event");
                format!("e{}", i + 1)
            })
            .collect()
    };
    let q = |f: &dyn Fn(&mut AuditQuery)| {
        let mut query = AuditQuery::default();
        f(&mut query);
        query
    };
    let cases: Vec<(&str, AuditQuery, Vec<&str>)> = vec![
        (
            "everything, newest first",
            AuditQuery::default(),
            vec!["e4", "e3", "e2", "e1"],
        ),
        ("org", q(&|x| x.org = Some(o1)), vec!["e2", "e1"]),
        (
            "action",
            q(&|x| x.action = Some("a.one".into())),
            vec!["e4", "e3", "e1"],
        ),
        (
            "action is exact",
            q(&|x| x.action = Some("a.".into())),
            vec![],
        ),
        (
            "actor, case-insensitive",
            q(&|x| x.actor_login = Some("ALICE".into())),
            vec!["e3", "e1"],
        ),
        (
            "after is inclusive",
            q(&|x| x.after = Some(at(20))),
            vec!["e4", "e3", "e2"],
        ),
        (
            "before is exclusive",
            q(&|x| x.before = Some(at(30))),
            vec!["e2", "e1"],
        ),
        (
            "window",
            q(&|x| {
                x.after = Some(at(20));
                x.before = Some(at(30));
            }),
            vec!["e2"],
        ),
        ("token", q(&|x| x.token_id = Some(t1)), vec!["e1"]),
        (
            "org and action",
            q(&|x| {
                x.org = Some(o1);
                x.action = Some("a.one".into());
            }),
            vec!["e1"],
        ),
        ("limit", q(&|x| x.limit = 2), vec!["e4", "e3"]),
        (
            "limit and offset",
            q(&|x| {
                x.limit = 2;
                x.offset = 2;
            }),
            vec!["e2", "e1"],
        ),
        ("offset alone", q(&|x| x.offset = 3), vec!["e1"]),
        ("offset past the end", q(&|x| x.offset = 4), vec![]),
    ];
    for (name, query, want) in cases {
        let got = label(store.audit_events(&query).await.unwrap());
        assert_eq!(got, want, "{name}: {query:?}");
    }
}

pub async fn audit_limit_defaults_to_100(store: &dyn Store) {
    for i in 0..105 {
        store.append_audit(&event("bulk", at(i))).await.unwrap();
    }
    let page = store.audit_events(&AuditQuery::default()).await.unwrap();
    assert_eq!(page.len(), 100);
    assert_eq!(page[0].created_at, at(104));
    let all = store
        .audit_events(&AuditQuery {
            limit: 500,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 105);
    assert!(all.windows(2).all(|w| w[0].created_at > w[1].created_at));
}

pub async fn audit_counts_match_every_page_of_the_query(store: &dyn Store) {
    let o = org(store, "acme").await;
    for i in 0..7 {
        let mut e = event(if i % 2 == 0 { "even" } else { "odd" }, at(i));
        e.org = (i < 5).then_some(o.id);
        store.append_audit(&e).await.unwrap();
    }
    let q = |org, action: Option<&str>| AuditQuery {
        org,
        action: action.map(str::to_owned),
        limit: 2,
        ..AuditQuery::default()
    };
    assert_eq!(store.count_audit_events(&q(None, None)).await.unwrap(), 7);
    assert_eq!(
        store
            .count_audit_events(&q(Some(o.id), None))
            .await
            .unwrap(),
        5
    );
    assert_eq!(
        store
            .count_audit_events(&q(Some(o.id), Some("even")))
            .await
            .unwrap(),
        3
    );
    // The count ignores the page: limit and offset only cut the listing.
    let mut paged = q(Some(o.id), None);
    paged.offset = 4;
    assert_eq!(store.audit_events(&paged).await.unwrap().len(), 1);
    assert_eq!(store.count_audit_events(&paged).await.unwrap(), 5);
}

pub async fn failed_changes_write_no_audit(store: &dyn Store) {
    let o = org(store, "acme").await;
    let mona = user(store, "mona").await;
    let t = insert(store, &fine_grained(mona.id, "taken", at(1))).await;
    let c = insert(store, &classic(mona.id, "classic", at(2), "repo")).await;
    let failed = |what: &str| event(&format!("failed.{what}"), at(5));

    assert!(matches!(
        store
            .insert_token(
                &classic(mona.id, "taken", at(3), "gist"),
                &[failed("insert")]
            )
            .await,
        Err(StoreError::UniqueViolation(_))
    ));
    assert!(matches!(
        store
            .update_token(TokenId(t.id.0 + 1000), None, &t.grant, &[failed("update")])
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .update_token(c.id, None, &t.grant, &[failed("update-kind")])
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .regenerate_token(
                c.id,
                &hash("taken"),
                "x",
                at(4),
                None,
                &[failed("regenerate")]
            )
            .await,
        Err(StoreError::UniqueViolation(_))
    ));
    assert!(matches!(
        store
            .delete_token(TokenId(t.id.0 + 1000), &[failed("delete")])
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .set_org_policy(mona.id, &PolicySettings::default(), &[failed("org-policy")])
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .set_enterprise_policy(
                patgate_domain::model::EnterpriseId(999),
                &PolicySettings::default(),
                &[failed("enterprise-policy")],
            )
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .audit_events(&AuditQuery::default())
            .await
            .unwrap()
            .is_empty(),
        "a failed change leaves no audit row"
    );
    // Nor any other trace.
    assert_eq!(store.token_by_id(c.id).await.unwrap(), Some(c.clone()));
    assert_eq!(store.tokens_of_user(mona.id).await.unwrap(), vec![c, t]);
    assert_eq!(
        store.org_policy(o.id).await.unwrap(),
        PolicySettings::default()
    );
}
