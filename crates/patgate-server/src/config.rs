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

    /// How many entries each in-process cache holds (verified tokens, users, repositories,
    /// rights...): size it to the tokens in use at once. About 450 bytes a cached token
    /// (docs/benchmarks.md, "Memory per cached token").
    #[arg(
        long,
        env = "PATGATE_CACHE_CAPACITY",
        default_value_t = 100_000,
        value_parser = clap::value_parser!(u64).range(1..),
        global = true
    )]
    pub cache_capacity: u64,

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
        let root = self
            .git_root
            .clone()
            .unwrap_or_else(|| self.data_dir.join("git"));
        crate::git::GitConfig {
            // Absolute: git runs in other directories than ours.
            root: std::path::absolute(&root).unwrap_or(root),
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
/// The log's format (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

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

    /// REST API requests an hour per user, shared by all their tokens (GitHub: 5 000). Counted
    /// per process: behind a load balancer a user gets up to this times the replicas.
    #[arg(long, env = "PATGATE_RATE_LIMIT_PER_USER", default_value_t = 5_000)]
    pub rate_limit_per_user: u32,

    /// REST API requests an hour per organization's app installation tokens (GitHub: 5 000).
    #[arg(
        long,
        env = "PATGATE_RATE_LIMIT_PER_INSTALLATION",
        default_value_t = 5_000
    )]
    pub rate_limit_per_installation: u32,

    /// Anonymous REST API requests an hour per client address (GitHub: 60).
    #[arg(long, env = "PATGATE_RATE_LIMIT_ANONYMOUS", default_value_t = 60)]
    pub rate_limit_anonymous: u32,

    /// How the log is written: `text` for people, `json` (one object a line) for collectors.
    #[arg(long, env = "PATGATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Where to serve `/metrics` (Prometheus's text format), for example `127.0.0.1:9090`: a
    /// listener of its own, so that the metrics never face the public side. Off by default.
    #[arg(long, env = "PATGATE_METRICS_BIND")]
    pub metrics_bind: Option<std::net::SocketAddr>,

    /// The platform's service credentials (TOML: name, SHA-256 of the secret, scopes), for the
    /// directory and authorization APIs (docs/platform.md). Without it those APIs refuse
    /// everyone.
    #[arg(long, env = "PATGATE_SERVICE_CREDENTIALS_FILE")]
    pub service_credentials_file: Option<std::path::PathBuf>,
}

impl NetSettings {
    pub fn rate_limits(&self) -> crate::ratelimit::RateLimitSettings {
        crate::ratelimit::RateLimitSettings {
            per_user: self.rate_limit_per_user,
            per_installation: self.rate_limit_per_installation,
            anonymous: self.rate_limit_anonymous,
        }
    }

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

/// Where messages go and how the outbox is delivered (docs/configuration.md, "Email and
/// webhooks").
#[derive(Args, Clone, Debug)]
pub struct DeliverySettings {
    /// The SMTP server. Without one, email is written as `.eml` files into --mail-dir.
    #[arg(long, env = "PATGATE_SMTP_HOST", global = true)]
    pub smtp_host: Option<String>,

    /// The SMTP port (default: 587 for starttls, 465 for tls, 25 for none).
    #[arg(long, env = "PATGATE_SMTP_PORT", global = true)]
    pub smtp_port: Option<u16>,

    /// How the connection to the SMTP server is secured.
    #[arg(
        long,
        env = "PATGATE_SMTP_SECURITY",
        value_enum,
        default_value = "starttls",
        global = true
    )]
    pub smtp_security: crate::notify::mailer::SmtpSecurity,

    /// The SMTP user name (no authentication without one).
    #[arg(long, env = "PATGATE_SMTP_USERNAME", global = true)]
    pub smtp_username: Option<String>,

    /// The SMTP password, from the environment only (a command line is visible to every user
    /// of the machine); or use --smtp-password-file.
    #[arg(
        long,
        env = "PATGATE_SMTP_PASSWORD",
        hide = true,
        hide_env_values = true,
        global = true
    )]
    pub smtp_password: Option<String>,

    /// A file holding the SMTP password (a mounted secret).
    #[arg(long, env = "PATGATE_SMTP_PASSWORD_FILE", global = true)]
    pub smtp_password_file: Option<PathBuf>,

    /// Seconds an SMTP exchange may take.
    #[arg(
        long,
        env = "PATGATE_SMTP_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub smtp_timeout_secs: u64,

    /// The From of every email.
    #[arg(
        long,
        env = "PATGATE_MAIL_FROM",
        default_value = "patgate <patgate@localhost>",
        global = true
    )]
    pub mail_from: String,

    /// Where email is written without SMTP (default: <data-dir>/mail).
    #[arg(long, env = "PATGATE_MAIL_DIR", global = true)]
    pub mail_dir: Option<PathBuf>,

    /// Networks webhooks may reach besides the public internet (comma-separated addresses or
    /// networks, e.g. `10.0.0.0/8`); by default private, loopback and link-local addresses are
    /// refused.
    #[arg(
        long,
        env = "PATGATE_WEBHOOK_ALLOWED_NETWORKS",
        default_value = "",
        global = true
    )]
    pub webhook_allowed_networks: crate::net::client::Networks,

    /// Seconds a webhook receiver has to answer.
    #[arg(
        long,
        env = "PATGATE_WEBHOOK_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub webhook_timeout_secs: u64,

    /// Whether this process delivers the outbox (`false` on replicas that should not).
    #[arg(long, env = "PATGATE_DELIVER", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub deliver: bool,

    /// Seconds between looks for messages written by other processes or due for a retry.
    #[arg(
        long,
        env = "PATGATE_OUTBOX_POLL_SECS",
        default_value_t = 5,
        global = true
    )]
    pub outbox_poll_secs: u64,

    /// Seconds a process holds a message it is delivering; after that (the process died),
    /// another one delivers it.
    #[arg(
        long,
        env = "PATGATE_OUTBOX_LEASE_SECS",
        default_value_t = 120,
        global = true
    )]
    pub outbox_lease_secs: u64,

    /// Attempts before a message is given up (`patgate outbox retry` puts it back).
    #[arg(
        long,
        env = "PATGATE_OUTBOX_MAX_ATTEMPTS",
        default_value_t = 12,
        global = true
    )]
    pub outbox_max_attempts: u32,

    /// Seconds to wait after the first failed attempt; each further failure doubles it.
    #[arg(
        long,
        env = "PATGATE_OUTBOX_FIRST_BACKOFF_SECS",
        default_value_t = 30,
        global = true
    )]
    pub outbox_first_backoff_secs: u64,
}

/// Parses `DeliverySettings` alone (for `DeliverySettings::defaults`).
#[derive(clap::Parser)]
struct DeliveryOnly {
    #[command(flatten)]
    delivery: DeliverySettings,
}

impl DeliverySettings {
    /// The defaults (and `PATGATE_*` variables): what `patgate` would use without flags.
    pub fn defaults() -> DeliverySettings {
        use clap::Parser;
        DeliveryOnly::parse_from(["patgate"]).delivery
    }

    /// The SMTP settings, when an SMTP server is configured.
    pub fn smtp(&self) -> anyhow::Result<Option<crate::notify::mailer::SmtpConfig>> {
        let Some(host) = self.smtp_host.clone().filter(|h| !h.trim().is_empty()) else {
            return Ok(None);
        };
        let password = match (&self.smtp_password, &self.smtp_password_file) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(file)) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
            ),
            (None, None) => None,
        };
        Ok(Some(crate::notify::mailer::SmtpConfig {
            host,
            port: self
                .smtp_port
                .unwrap_or_else(|| self.smtp_security.default_port()),
            security: self.smtp_security,
            username: self.smtp_username.clone(),
            password,
            timeout: std::time::Duration::from_secs(self.smtp_timeout_secs.max(1)),
        }))
    }

    pub fn mail_dir(&self, data_dir: &std::path::Path) -> PathBuf {
        self.mail_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("mail"))
    }

    pub fn policy(&self) -> patgate_app::delivery::DeliveryPolicy {
        patgate_app::delivery::DeliveryPolicy {
            lease: std::time::Duration::from_secs(self.outbox_lease_secs.max(1)),
            max_attempts: self.outbox_max_attempts.max(1),
            first_backoff: std::time::Duration::from_secs(self.outbox_first_backoff_secs.max(1)),
            ..patgate_app::delivery::DeliveryPolicy::default()
        }
    }
}
