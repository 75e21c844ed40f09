//! The Debian package's files agree with each other and with the code: the shipped
//! `/etc/toker/toker.toml` is valid and shows every setting with its real default, and the
//! systemd unit reads that file, runs as the user postinst creates and may write where the
//! database lives. (.ci/run builds, installs and starts the package itself.)

use std::{collections::BTreeSet, path::Path, process::Command};

use figment::{
    Figment,
    providers::{Format, Toml},
};
use toker::config::Settings;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(relative: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(relative)).unwrap()
}

/// `Key=value` lines of the unit's `[Service]` section, in order (keys may repeat).
fn unit_directives() -> Vec<(String, String)> {
    read("packaging/toker.service")
        .lines()
        .skip_while(|l| l.trim() != "[Service]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn directive(name: &str) -> String {
    unit_directives()
        .into_iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("toker.service has no {name}="))
        .1
}

fn parse_settings(toml_text: &str) -> Settings {
    Figment::from(Toml::string(toml_text))
        .extract()
        .unwrap_or_else(|e| panic!("{e}:\n{toml_text}"))
}

#[test]
fn the_shipped_settings_file_is_valid_and_keeps_the_database_in_the_state_directory() {
    let out = Command::new(env!("CARGO_BIN_EXE_toker"))
        .args([
            "--config",
            &format!("{ROOT}/packaging/toker.toml"),
            "check-config",
        ])
        .env_remove("TOKER_DATABASE_URL")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();

    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let effective: toml::Table = text.parse().unwrap();
    assert_eq!(
        effective["database_url"].as_str(),
        Some("sqlite:///var/lib/toker/toker.db?mode=rwc")
    );
    assert_eq!(effective["mail_transport"].as_str(), Some("log"));
    assert_eq!(effective["bind"].as_str(), Some("127.0.0.1:3000"));
}

#[test]
fn the_shipped_settings_file_shows_every_setting_with_its_default() {
    let file = read("packaging/toker.toml");
    let defaults = serde_json::to_value(Settings::default()).unwrap();
    let assignment = regex::Regex::new(r"^(# )?([a-z_]+) = ").unwrap();
    let table = regex::Regex::new(r"^(# )?\[([a-z_]+)[.\]]").unwrap();
    let table_entry = regex::Regex::new(r"^# [a-z_-]+ = ").unwrap();
    let mut shown = BTreeSet::new();
    let mut lines = file.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(c) = table.captures(line) {
            let name = c[2].to_string();
            shown.insert(name.clone());
            if c.get(1).is_none() {
                continue;
            }
            // A commented-out table: uncommented as a block, it must be valid, and show the
            // defaults when the whole setting has them.
            let mut block = format!("{}\n", &line[2..]);
            while let Some(next) = lines.next_if(|l| table_entry.is_match(l)) {
                block.push_str(&next[2..]);
                block.push('\n');
            }
            let parsed = serde_json::to_value(parse_settings(&block)).unwrap();
            if !line.contains('.') {
                assert_eq!(parsed[&name], defaults[&name], "[{name}] in:\n{block}");
            }
            continue;
        }
        let Some(c) = assignment.captures(line) else {
            continue;
        };
        let name = c[2].to_string();
        shown.insert(name.clone());
        if c.get(1).is_none() {
            continue; // set on purpose for the package (database_url, …)
        }
        let parsed = serde_json::to_value(parse_settings(&line[2..])).unwrap();
        // Settings unset by default are shown with an example value instead.
        if !defaults[&name].is_null() {
            assert_eq!(
                parsed[&name], defaults[&name],
                "`{line}` is not the default"
            );
        }
    }
    let missing: Vec<&String> = defaults
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !shown.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "settings missing from packaging/toker.toml: {missing:?}"
    );
}

#[test]
fn the_unit_reads_the_shipped_settings_as_the_user_postinst_creates() {
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let assets = manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .unwrap();
    let dest = |source: &str| {
        assets
            .iter()
            .find(|a| a[0].as_str() == Some(source))
            .unwrap_or_else(|| panic!("{source} is not packaged"))[1]
            .as_str()
            .unwrap()
    };
    let (binary_dest, config_dest) = (dest("target/release/toker"), dest("packaging/toker.toml"));

    assert_eq!(
        directive("ExecStart"),
        format!("/{binary_dest}toker --config /{config_dest} serve")
    );
    let user = directive("User");
    let postinst = read("packaging/debian/postinst");
    assert!(
        postinst.contains(&format!("--quiet {user}\n")) && postinst.contains("adduser --system"),
        "postinst must create the system user {user}"
    );
    assert!(read("packaging/debian/postrm").contains(&format!("deluser --system --quiet {user}")));
}

#[test]
fn the_unit_may_write_where_the_shipped_database_lives_and_nowhere_else() {
    let settings = parse_settings(&read("packaging/toker.toml"));
    let db_path = settings
        .database_url
        .strip_prefix("sqlite://")
        .and_then(|p| p.split('?').next())
        .unwrap();
    let state = format!("/var/lib/{}", directive("StateDirectory"));

    assert!(db_path.starts_with(&format!("{state}/")), "{db_path}");
    assert_eq!(directive("ReadWritePaths"), state);
    assert_eq!(directive("WorkingDirectory"), state);
    assert_eq!(directive("ProtectSystem"), "strict");
    for hardening in [
        "NoNewPrivileges",
        "PrivateTmp",
        "ProtectHome",
        "PrivateDevices",
    ] {
        assert_eq!(directive(hardening), "yes", "{hardening}");
    }
    assert_eq!(directive("CapabilityBoundingSet"), "");
}
