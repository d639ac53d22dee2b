//! The configuration file (`--config FILE` or `PATGATE_CONFIG`), and secrets read from files
//! (`PATGATE_<NAME>_FILE`).
//!
//! A setting comes from, in order: the command line, the environment, the file, the default. The
//! file is TOML whose keys are the flags' names with `_` for `-` (`bind`, `database_url`,
//! `rate_limit_per_user`); a table is a prefix (`[smtp] host = ...` is `smtp_host`); a list is a
//! comma-separated value (`trusted_proxies = ["10.0.0.0/8", "::1"]`). A key no command knows is
//! refused, naming it, so that a typo does not silently keep a default. A key `<name>_file` (or
//! the variable `PATGATE_<NAME>_FILE`) reads `<name>` from that file, for secrets mounted as
//! files (Docker and Kubernetes secrets, systemd credentials).
//!
//! Rather than a second parser, the file's settings become flags that clap parses with the rest:
//! one set of names, types and error messages for all three sources.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::ArgMatches;
use clap::parser::ValueSource;

/// Where a setting's value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    CommandLine,
    Environment,
    File,
    Default,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::CommandLine => "command line",
            Source::Environment => "environment",
            Source::File => "config file",
            Source::Default => "default",
        }
    }
}

/// The command line with the file's settings (and secrets from files) added as flags.
#[derive(Debug)]
pub struct Expanded {
    pub argv: Vec<OsString>,
    /// The setting ids the file (or a secret file) supplied.
    pub from_file: BTreeSet<String>,
}

/// Every setting id a command of the tree takes, with its long flag.
fn known_settings(cmd: &clap::Command, into: &mut BTreeSet<String>) {
    for arg in cmd.get_arguments() {
        if arg.get_long().is_some() {
            into.insert(arg.get_id().as_str().to_owned());
        }
    }
    for sub in cmd.get_subcommands() {
        known_settings(sub, into);
    }
}

/// The commands this invocation runs through, root first, with their matches.
fn chain<'a>(
    cmd: &'a clap::Command,
    matches: &'a ArgMatches,
) -> Vec<(&'a clap::Command, &'a ArgMatches)> {
    let mut out = vec![(cmd, matches)];
    let (mut cmd, mut matches) = (cmd, matches);
    while let Some((name, sub_matches)) = matches.subcommand() {
        let Some(sub) = cmd.find_subcommand(name) else {
            break;
        };
        out.push((sub, sub_matches));
        cmd = sub;
        matches = sub_matches;
    }
    out
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (key, value) in table {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}_{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&name, inner, out),
            other => out.push((name, other.clone())),
        }
    }
}

fn scalar(key: &str, value: &toml::Value) -> Result<String, String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| match v {
                toml::Value::Array(_) | toml::Value::Table(_) => {
                    Err(format!("{key}: a list may hold only plain values"))
                }
                other => scalar(key, other),
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        toml::Value::Table(_) => return Err(format!("{key}: unexpected table")),
    })
}

fn read_secret(path: &Path, what: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{what}: reading {}: {e}", path.display()))?;
    // A secret file usually ends with a newline the secret does not contain.
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// Whether a setting is already given with a higher precedence than the file's.
fn given(matches: &ArgMatches, id: &str) -> bool {
    matches!(
        matches
            .try_get_raw(id)
            .ok()
            .flatten()
            .and(matches.value_source(id)),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// `argv` with the configuration file's settings and the `*_FILE` secrets added, for every
/// setting neither the command line nor the environment gives. `Ok` with `argv` unchanged when
/// clap would refuse it anyway (clap then says why) or when there is nothing to add.
pub fn expand(
    cmd: &clap::Command,
    argv: Vec<OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Expanded, String> {
    let unchanged = |argv| Expanded {
        argv,
        from_file: BTreeSet::new(),
    };
    let Ok(matches) = cmd.clone().try_get_matches_from(&argv) else {
        return Ok(unchanged(argv));
    };
    let config: Option<PathBuf> = matches
        .try_get_one::<PathBuf>("config")
        .ok()
        .flatten()
        .cloned();
    let chain = chain(cmd, &matches);
    let deepest = chain.last().map(|(_, m)| *m).unwrap_or(&matches);

    // The file's entries, by setting id.
    let mut entries: Vec<(String, String)> = Vec::new();
    if let Some(path) = &config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading the configuration file {}: {e}", path.display()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| format!("the configuration file {}: {e}", path.display()))?;
        let mut flat = Vec::new();
        flatten("", &table, &mut flat);
        let mut known = BTreeSet::new();
        known_settings(cmd, &mut known);
        for (key, value) in flat {
            let key = key.replace('-', "_");
            if key == "config" {
                return Err(format!(
                    "the configuration file {}: `config` cannot name another file",
                    path.display()
                ));
            }
            let value = scalar(&key, &value)
                .map_err(|e| format!("the configuration file {}: {e}", path.display()))?;
            if known.contains(&key) {
                entries.push((key, value));
            } else if let Some(stem) = key.strip_suffix("_file")
                && known.contains(stem)
            {
                let secret = read_secret(Path::new(&value), &key)?;
                entries.push((stem.to_owned(), secret));
            } else {
                return Err(format!(
                    "the configuration file {}: unknown setting `{key}` (the settings are the \
                     flags' names with _ for -: docs/configuration.md)",
                    path.display()
                ));
            }
        }
    }

    let mut leading: Vec<OsString> = Vec::new();
    let mut trailing: Vec<OsString> = Vec::new();
    let mut from_file = BTreeSet::new();
    for (depth, (command, level)) in chain.iter().enumerate() {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            let Some(long) = arg.get_long() else { continue };
            if id == "config" || given(level, id) || given(deepest, id) {
                continue;
            }
            // A secret in a file named by the environment comes before the file's settings.
            let from_env_file = arg
                .get_env()
                .and_then(|e| e.to_str())
                .and_then(|e| env(&format!("{e}_FILE")).map(|p| (e.to_owned(), p)));
            let value = match from_env_file {
                Some((var, path)) => Some(read_secret(Path::new(&path), &format!("{var}_FILE"))?),
                None => entries
                    .iter()
                    .rev()
                    .find(|(key, _)| key == id)
                    .map(|(_, v)| v.clone()),
            };
            let Some(value) = value else { continue };
            let flag: Vec<OsString> = if arg.get_action().takes_values() {
                vec![format!("--{long}={value}").into()]
            } else {
                match value.as_str() {
                    "true" | "1" | "yes" | "on" => vec![format!("--{long}").into()],
                    "false" | "0" | "no" | "off" => vec![],
                    other => {
                        return Err(format!("{id}: expected true or false, not {other:?}"));
                    }
                }
            };
            from_file.insert(id.to_owned());
            // A root command's own (not global) settings go before the subcommand; the rest
            // after it, where clap takes the deepest command's and the global ones.
            if depth == 0 && !arg.is_global_set() {
                leading.extend(flag);
            } else {
                trailing.extend(flag);
            }
        }
    }
    if leading.is_empty() && trailing.is_empty() {
        return Ok(unchanged(argv));
    }
    let mut out = Vec::with_capacity(argv.len() + leading.len() + trailing.len());
    let mut rest = argv.into_iter();
    out.extend(rest.next());
    out.extend(leading);
    out.extend(rest);
    out.extend(trailing);
    Ok(Expanded {
        argv: out,
        from_file,
    })
}

/// One line of `patgate config check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub name: String,
    pub value: String,
    pub source: Source,
}

/// What `serve` would run with, given the command line of `patgate ... config check ...` (its
/// global settings count): every setting, its value (secrets masked) and where it came from; or
/// the first setting that does not parse, as clap words it.
pub fn check(
    cmd: &clap::Command,
    argv: Vec<OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Effective>, String> {
    let mut argv = argv;
    let at = argv
        .windows(2)
        .rposition(|w| w[0] == "config" && w[1] == "check")
        .ok_or("config check: not found on the command line")?;
    argv.splice(at..at + 2, [OsString::from("serve")]);
    let expanded = expand(cmd, argv, env)?;
    let matches = cmd
        .clone()
        .try_get_matches_from(&expanded.argv)
        .map_err(|e| e.render().to_string().trim_end().to_owned())?;
    let mut out = Vec::new();
    for (command, m) in chain(cmd, &matches) {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.get_long().is_none() || id == "config" || arg.is_hide_set() {
                continue;
            }
            let raw: Vec<String> = m
                .try_get_raw(id)
                .ok()
                .flatten()
                .map(|vals| vals.map(|v| v.to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            let source = if expanded.from_file.contains(id) {
                Source::File
            } else {
                match m.value_source(id) {
                    Some(ValueSource::CommandLine) => Source::CommandLine,
                    Some(ValueSource::EnvVariable) => Source::Environment,
                    _ => Source::Default,
                }
            };
            // A setting that names a file (a secret, the service credentials) is only read
            // when it is needed: check now that it can be.
            if id.ends_with("_file")
                && let Some(path) = raw.first()
                && let Err(e) = std::fs::File::open(path)
            {
                return Err(format!("{id}: cannot read {path}: {e}"));
            }
            let value = if raw.is_empty() {
                "(none)".to_owned()
            } else {
                mask(id, &raw.join(","))
            };
            if out.iter().any(|e: &Effective| e.name == id) {
                continue;
            }
            out.push(Effective {
                name: id.to_owned(),
                value,
                source,
            });
        }
    }
    Ok(out)
}

/// Hides what must not reach a terminal or a log: passwords and secrets whole, a database URL's
/// password.
pub fn mask(id: &str, value: &str) -> String {
    if id.ends_with("password") || id.contains("secret") {
        return "********".to_owned();
    }
    if id == "database_url"
        && let Some((scheme, rest)) = value.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _password)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:********@{host}");
    }
    value.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, Command};

    fn cli() -> Command {
        Command::new("patgate")
            .arg(
                Arg::new("config")
                    .long("config")
                    .global(true)
                    .value_parser(clap::value_parser!(PathBuf)),
            )
            .arg(
                Arg::new("data_dir")
                    .long("data-dir")
                    .env("PATGATE_DATA_DIR")
                    .global(true)
                    .default_value("data"),
            )
            .arg(
                Arg::new("smtp_password")
                    .long("smtp-password")
                    .env("PATGATE_SMTP_PASSWORD")
                    .global(true),
            )
            .subcommand(
                Command::new("serve")
                    .arg(
                        Arg::new("bind")
                            .long("bind")
                            .env("PATGATE_BIND")
                            .default_value("127.0.0.1:8080"),
                    )
                    .arg(
                        Arg::new("trusted_proxies")
                            .long("trusted-proxies")
                            .env("PATGATE_TRUSTED_PROXIES"),
                    )
                    .arg(Arg::new("demo").long("demo").action(ArgAction::SetTrue)),
            )
            .subcommand(Command::new("migrate"))
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(f.path(), text).expect("written");
        f
    }

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn strings(e: &Expanded) -> Vec<String> {
        e.argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_command_line_beats_the_environment_which_beats_the_file() {
        let f = file(
            "bind = \"0.0.0.0:9000\"\ndata_dir = \"/srv\"\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\ndemo = true\n",
        );
        let path = f.path().display().to_string();
        let e = expand(
            &cli(),
            argv(&[
                "patgate",
                "--config",
                &path,
                "serve",
                "--bind",
                "127.0.0.1:1",
            ]),
            &no_env,
        )
        .expect("expanded");
        let m = cli().try_get_matches_from(&e.argv).expect("parses");
        let (_, serve) = m.subcommand().expect("serve");
        assert_eq!(
            serve.get_one::<String>("bind").map(String::as_str),
            Some("127.0.0.1:1")
        );
        assert_eq!(
            serve.get_one::<String>("data_dir").map(String::as_str),
            Some("/srv")
        );
        assert_eq!(
            serve
                .get_one::<String>("trusted_proxies")
                .map(String::as_str),
            Some("10.0.0.0/8,::1")
        );
        assert!(serve.get_flag("demo"));
        assert!(!e.from_file.contains("bind"));
    }

    #[test]
    fn a_setting_in_the_environment_is_not_overridden_by_the_file() {
        // clap reads the real environment: use a variable no test sets elsewhere.
        let cmd = Command::new("patgate")
            .arg(
                Arg::new("config")
                    .long("config")
                    .value_parser(clap::value_parser!(PathBuf)),
            )
            .arg(Arg::new("home_dir").long("home-dir").env("HOME"));
        let f = file("home_dir = \"/from/file\"\n");
        let path = f.path().display().to_string();
        let e = expand(&cmd, argv(&["patgate", "--config", &path]), &no_env).expect("expanded");
        assert!(
            !strings(&e).iter().any(|a| a.contains("/from/file")),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_by_name() {
        let f = file("bnid = \"0.0.0.0:1\"\n");
        let path = f.path().display().to_string();
        let err = expand(
            &cli(),
            argv(&["patgate", "--config", &path, "serve"]),
            &no_env,
        )
        .unwrap_err();
        assert!(err.contains("unknown setting `bnid`"), "{err}");
        let f = file("demo = \"maybe\"\n");
        let path = f.path().display().to_string();
        let err = expand(
            &cli(),
            argv(&["patgate", "--config", &path, "serve"]),
            &no_env,
        )
        .unwrap_err();
        assert!(err.contains("demo"), "{err}");
        let f = file("bind = [\n");
        let path = f.path().display().to_string();
        assert!(
            expand(
                &cli(),
                argv(&["patgate", "--config", &path, "serve"]),
                &no_env
            )
            .is_err()
        );
    }

    #[test]
    fn settings_of_other_commands_are_accepted_and_ignored() {
        let f = file("bind = \"0.0.0.0:9000\"\n");
        let path = f.path().display().to_string();
        let e = expand(
            &cli(),
            argv(&["patgate", "--config", &path, "migrate"]),
            &no_env,
        )
        .expect("expanded");
        cli()
            .try_get_matches_from(&e.argv)
            .expect("migrate takes no --bind, and gets none");
    }

    #[test]
    fn secrets_come_from_files_named_in_the_file_or_the_environment() {
        let secret = file("s3cret\n");
        let f = file(&format!(
            "[smtp]\npassword_file = \"{}\"\n",
            secret.path().display()
        ));
        let path = f.path().display().to_string();
        let e = expand(
            &cli(),
            argv(&["patgate", "--config", &path, "serve"]),
            &no_env,
        )
        .expect("expanded");
        let m = cli().try_get_matches_from(&e.argv).expect("parses");
        let (_, serve) = m.subcommand().expect("serve");
        assert_eq!(
            serve.get_one::<String>("smtp_password").map(String::as_str),
            Some("s3cret")
        );

        let other = file("from-env\n");
        let other_path = other.path().display().to_string();
        let env =
            move |name: &str| (name == "PATGATE_SMTP_PASSWORD_FILE").then(|| other_path.clone());
        let e = expand(&cli(), argv(&["patgate", "serve"]), &env).expect("expanded");
        assert!(strings(&e).contains(&"--smtp-password=from-env".to_owned()));
        let missing = |name: &str| {
            (name == "PATGATE_SMTP_PASSWORD_FILE").then(|| "/nonexistent/secret".to_owned())
        };
        assert!(
            expand(&cli(), argv(&["patgate", "serve"]), &missing)
                .unwrap_err()
                .contains("PATGATE_SMTP_PASSWORD_FILE")
        );
    }

    #[test]
    fn check_reports_sources_and_masks_secrets() {
        let f = file("bind = \"0.0.0.0:9000\"\nsmtp_password = \"hunter22\"\n");
        let path = f.path().display().to_string();
        let cli = cli().subcommand(Command::new("config").subcommand(Command::new("check")));
        let lines = check(
            &cli,
            argv(&["patgate", "--config", &path, "config", "check"]),
            &no_env,
        )
        .expect("valid");
        let line = |n: &str| lines.iter().find(|l| l.name == n).cloned().expect(n);
        assert_eq!(line("bind").value, "0.0.0.0:9000");
        assert_eq!(line("bind").source, Source::File);
        assert_eq!(line("smtp_password").value, "********");
        assert_eq!(line("data_dir").source, Source::Default);
        assert_eq!(
            mask("database_url", "postgres://app:pw@db:5432/x"),
            "postgres://app:********@db:5432/x"
        );
        assert_eq!(
            mask("database_url", "sqlite://data/patgate.db"),
            "sqlite://data/patgate.db"
        );
    }
}
