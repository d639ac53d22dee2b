//! What one verified token costs in memory while it is cached (issue 14: ≤ 512 bytes, so that
//! a million cached tokens fit in 512 MB): the live heap bytes of the process before and after
//! verifying TOKENS distinct tokens (half fine-grained, half classic, 50 per user) on an app
//! whose caches are empty, counted by a global allocator that tracks every allocation and
//! free. SQLite's own memory (its page cache) goes through its allocator, not Rust's, so what
//! is counted is patgate's: the verification cache's entries and table, the last-used
//! bookkeeping (drained at every flush in a server), and each token's share of its user's
//! cached standing.
//!
//!     cargo run --release -p patgate-app --example cache_footprint [TOKENS]

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::sync::Arc;

use patgate_app::auth::PasswordParams;
use patgate_app::seed::SeedFile;
use patgate_app::{App, AppConfig, SystemClock};
use patgate_store::Store;
use patgate_store_sql::sqlite::SqliteStore;

/// The system allocator, counting the bytes live (`cap`: no limit set).
#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

fn seed(tokens: usize) -> String {
    // A user may hold 50 fine-grained tokens.
    let users = tokens.div_ceil(50);
    let mut s = String::from("[[orgs]]\nlogin = \"acme\"\nowners = [");
    s.push_str(
        &(0..users)
            .map(|u| format!("\"u{u}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    s.push_str("]\n\n[[repos]]\nowner = \"acme\"\nname = \"api\"\nvisibility = \"private\"\n");
    for u in 0..users {
        s.push_str(&format!(
            "\n[[users]]\nlogin = \"u{u}\"\nemail = \"u{u}@example.com\"\n"
        ));
    }
    for t in 0..tokens {
        let u = t % users;
        if t % 2 == 0 {
            s.push_str(&format!(
                "\n[[tokens]]\nuser = \"u{u}\"\nkind = \"fine_grained\"\nname = \"token {t}\"\n\
                 resource_owner = \"acme\"\nrepository_selection = \"all\"\n\
                 permissions = {{ contents = \"read\", issues = \"write\" }}\n"
            ));
        } else {
            s.push_str(&format!(
                "\n[[tokens]]\nuser = \"u{u}\"\nkind = \"classic\"\nname = \"token {t}\"\n\
                 scopes = [\"repo\", \"workflow\"]\n"
            ));
        }
    }
    s
}

fn main() {
    let tokens: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |n| n.parse().expect("TOKENS is a number"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = SqliteStore::open_file(&dir.path().join("footprint.db"))
            .await
            .expect("open");
        store.migrate().await.expect("migrate");
        let store: Arc<dyn Store> = Arc::new(store);
        let config = || AppConfig {
            password_hashing: PasswordParams::insecure_fast(),
            cache_ttl: std::time::Duration::from_secs(3600),
            // Room for every token: the default capacity would evict past 100 000.
            cache_capacity: u64::try_from(tokens).unwrap_or(u64::MAX),
            ..Default::default()
        };
        let seeding = App::new(store.clone(), Arc::new(SystemClock), config());
        let report = seeding
            .load_seed(&SeedFile::parse(&seed(tokens)).expect("seed"))
            .await
            .expect("load");
        let secrets: Vec<String> = report.new_tokens.into_iter().map(|t| t.2).collect();
        assert_eq!(secrets.len(), tokens, "every token was created");
        // A fresh app over the same store, its caches empty; one verification first, so that
        // what is allocated once (the store's prepared statements) is not counted.
        let app = App::new(store, Arc::new(SystemClock), config());
        app.verify(&secrets[0]).await.expect("verifies");
        let before = ALLOCATOR.allocated();
        for secret in &secrets[1..] {
            // Dropped at once: what stays is what the caches hold.
            drop(app.verify(secret).await.expect("verifies"));
        }
        let after = ALLOCATOR.allocated();
        let per_token = after.saturating_sub(before) as f64 / (tokens - 1) as f64;
        println!(
            "RESULT tokens={tokens} heap_before={before} heap_after={after} \
             bytes_per_cached_token={per_token:.0}"
        );
    });
}
