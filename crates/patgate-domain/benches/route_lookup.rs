//! What recognising a request costs: `routes::lookup` over GitHub's route table (forward auth
//! and the authorization API run it on every request), for a short route, deep ones, a
//! catch-all path and a miss.
//!
//!     cargo bench -p patgate-domain --bench route_lookup

use criterion::{Criterion, criterion_group, criterion_main};
use patgate_domain::routes::lookup;

fn route_lookup(c: &mut Criterion) {
    let paths = [
        (
            "contents (catch-all path)",
            "GET",
            "/repos/acme/api/contents/src/main.rs?ref=x",
        ),
        (
            "issue comments",
            "POST",
            "/repos/acme/api/issues/1/comments",
        ),
        (
            "branch protection (slashes in the branch)",
            "GET",
            "/repos/acme/api/branches/feature/x/protection/required_status_checks",
        ),
        (
            "org secrets key",
            "GET",
            "/orgs/acme/actions/secrets/public-key",
        ),
        ("no such route", "GET", "/repos/acme/api/no-such-thing"),
    ];
    // The table is built on first use: not part of any measurement.
    let _ = lookup("GET", "/");
    let mut group = c.benchmark_group("routes::lookup");
    for (name, method, path) in paths {
        group.bench_function(name, |b| {
            b.iter(|| lookup(std::hint::black_box(method), std::hint::black_box(path)))
        });
    }
    group.finish();
}

criterion_group!(benches, route_lookup);
criterion_main!(benches);
