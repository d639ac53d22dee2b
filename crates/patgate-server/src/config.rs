//! Settings shared by `serve` and the store commands; every one also comes from a `PATGATE_*`
//! environment variable (see docs/configuration.md).

use std::path::PathBuf;

use clap::Args;

#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// Database URL: `sqlite://path/to/file.db` (default: <data-dir>/patgate.db) or `postgres://...`.
    #[arg(long, env = "PATGATE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Where the default SQLite database lives.
    #[arg(long, env = "PATGATE_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,

    /// Token prefixes (fine-grained, classic, app installation), so that secret scanners can tell
    /// installations apart.
    #[arg(
        long,
        env = "PATGATE_PREFIX_FINE_GRAINED",
        default_value = "pgf_",
        global = true
    )]
    pub prefix_fine_grained: String,
    #[arg(
        long,
        env = "PATGATE_PREFIX_CLASSIC",
        default_value = "pgp_",
        global = true
    )]
    pub prefix_classic: String,
    #[arg(
        long,
        env = "PATGATE_PREFIX_APP",
        default_value = "pgs_",
        global = true
    )]
    pub prefix_app: String,

    /// Seconds a verified token or a directory fact is served from memory: the bound on how long
    /// another process's change can go unseen.
    #[arg(
        long,
        env = "PATGATE_CACHE_TTL_SECS",
        default_value_t = 5,
        global = true
    )]
    pub cache_ttl_secs: u64,

    /// PostgreSQL: the most connections this process opens.
    #[arg(
        long,
        env = "PATGATE_PG_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub pg_max_connections: u32,

    /// PostgreSQL: seconds a request waits for a connection before it fails with 503.
    #[arg(
        long,
        env = "PATGATE_PG_ACQUIRE_TIMEOUT_SECS",
        default_value_t = 3,
        global = true
    )]
    pub pg_acquire_timeout_secs: u64,

    /// PostgreSQL: the longest a statement may run, in seconds.
    #[arg(
        long,
        env = "PATGATE_PG_STATEMENT_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub pg_statement_timeout_secs: u64,

    /// PostgreSQL: announce changes to other replicas with LISTEN/NOTIFY. Turn off on
    /// PostgreSQL-compatible engines without it (CockroachDB, YugabyteDB): the cache TTL then
    /// bounds how long another replica's change goes unseen.
    #[arg(long, env = "PATGATE_PG_NOTIFY", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub pg_notify: bool,

    /// Seconds between checks for due scheduled jobs (each runs once a day across all processes).
    #[arg(
        long,
        env = "PATGATE_JOBS_INTERVAL_SECS",
        default_value_t = 60,
        global = true
    )]
    pub jobs_interval_secs: u64,

    /// Where the bare git repositories live (default: <data-dir>/git).
    #[arg(long, env = "PATGATE_GIT_ROOT", global = true)]
    pub git_root: Option<PathBuf>,

    /// The git executable that serves `git http-backend`.
    #[arg(long, env = "PATGATE_GIT", default_value = "git", global = true)]
    pub git_binary: String,

    /// Use the cheapest password hashing (tests and demos only).
    // The variable takes 1/0, true/false, yes/no or on/off, as flags in the environment usually do.
    #[arg(
        long,
        env = "PATGATE_INSECURE_FAST_PASSWORDS",
        hide = true,
        global = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub insecure_fast_passwords: bool,
}

/// Parses `Settings` alone (for `Settings::defaults_in`).
#[derive(clap::Parser)]
struct SettingsOnly {
    #[command(flatten)]
    settings: Settings,
}

impl Settings {
    /// The defaults (and `PATGATE_*` variables) with the data directory set: what `patgate`
    /// would use when run with `--data-dir DIR`.
    pub fn defaults_in(data_dir: &std::path::Path) -> Settings {
        use clap::Parser;
        let mut s = SettingsOnly::parse_from(["patgate"]).settings;
        s.data_dir = data_dir.to_path_buf();
        s
    }
    pub fn git_config(&self) -> crate::git::GitConfig {
        crate::git::GitConfig {
            root: self
                .git_root
                .clone()
                .unwrap_or_else(|| self.data_dir.join("git")),
            git: self.git_binary.clone(),
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("patgate.db").display()),
        }
    }
}

/// How `serve` treats connections and clients (docs/operations.md, "Limits and timeouts").
#[derive(Args, Clone, Debug)]
pub struct NetSettings {
    /// Reverse proxies (addresses or networks, comma-separated) whose `Forwarded` or
    /// `X-Forwarded-For` header names the client; from anyone else those headers are ignored.
    #[arg(long, env = "PATGATE_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: crate::net::client::TrustedProxies,

    /// Seconds a connection may take to send a complete request head. This is also how long an
    /// idle keep-alive connection stays open between requests.
    #[arg(long, env = "PATGATE_HEADER_TIMEOUT_SECS", default_value_t = 20)]
    pub header_timeout_secs: u64,

    /// Seconds an API request may take, reading its body included (408 after). Git requests are
    /// exempt: a long clone or push is bounded by the stall timeout instead.
    #[arg(long, env = "PATGATE_REQUEST_TIMEOUT_SECS", default_value_t = 60)]
    pub request_timeout_secs: u64,

    /// Seconds a connection with a request in progress may go without sending or receiving a
    /// byte before it is closed (git sends keep-alives every few seconds while it works).
    #[arg(long, env = "PATGATE_STALL_TIMEOUT_SECS", default_value_t = 120)]
    pub stall_timeout_secs: u64,

    /// The most connections served at once. At the cap, the longest-idle connection is closed
    /// to make room; when none is idle, the newcomer is answered 503. Default: three quarters of
    /// the process's open-file limit, at most 10 000.
    #[arg(long, env = "PATGATE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// The largest request head (request line and headers) in bytes (431 beyond).
    #[arg(long, env = "PATGATE_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,

    /// The most request headers (431 beyond).
    #[arg(long, env = "PATGATE_MAX_HEADERS", default_value_t = 100)]
    pub max_headers: usize,

    /// The platform's service credentials (TOML: name, SHA-256 of the secret, scopes), for the
    /// directory and authorization APIs (docs/platform.md). Without it those APIs refuse
    /// everyone.
    #[arg(long, env = "PATGATE_SERVICE_CREDENTIALS_FILE")]
    pub service_credentials_file: Option<std::path::PathBuf>,
}

impl NetSettings {
    pub fn connection_limits(&self) -> crate::net::serve::ConnectionLimits {
        let defaults = crate::net::serve::ConnectionLimits::default();
        crate::net::serve::ConnectionLimits {
            header_timeout: std::time::Duration::from_secs(self.header_timeout_secs.max(1)),
            stall_timeout: std::time::Duration::from_secs(self.stall_timeout_secs.max(1)),
            max_connections: self
                .max_connections
                .unwrap_or(defaults.max_connections)
                .max(1),
            max_header_bytes: self.max_header_bytes.max(1024),
            max_headers: self.max_headers.max(8),
            ..defaults
        }
    }
}
