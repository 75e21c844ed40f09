//! The operator's commands (`toker users …`, `toker devices …`, `toker import dta`): run the
//! account rules on the configured database and print the outcome, as a table or, with
//! `--json`, as JSON for scripts. Errors come back to `main`, which prints them and exits
//! non-zero. No secret is printed: no password hash, token digest or mailed link.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::{Value, json};

use crate::{
    accounts::{Accounts, admin::AdminError},
    cli::{AppsCommand, DevicesCommand, ImportCommand, UsersCommand},
    import,
    store::{ClientApp, Device, User},
    tokens::is_bcrypt,
};

/// A user as the commands show it.
pub fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "provider": user.provider,
        "uid": user.uid,
        "email": user.email,
        "unconfirmed_email": user.unconfirmed_email,
        "confirmed_at": user.confirmed_at.map(|t| t.to_rfc3339()),
        "locked_at": user.locked_at.map(|t| t.to_rfc3339()),
        "failed_attempts": user.failed_attempts,
        "sign_in_count": user.sign_in_count,
        "name": user.name,
        "nickname": user.nickname,
        "image": user.image,
        "created_at": user.created_at.to_rfc3339(),
        "updated_at": user.updated_at.to_rfc3339(),
    })
}

/// A device as the commands show it; `imported` while it still holds devise_token_auth's
/// bcrypt hashes (not used with toker yet).
pub fn device_json(device: &Device) -> Value {
    let ms = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339());
    json!({
        "id": device.id,
        "user_id": device.user_id,
        "client": device.client,
        "expiry": chrono::DateTime::from_timestamp(device.expiry, 0).map(|t| t.to_rfc3339()),
        "last_used_at": ms(device.touched_at),
        "created_at": device.created_at.to_rfc3339(),
        "user_agent": device.user_agent,
        "ip": device.ip,
        "imported": is_bcrypt(&device.token_hash),
    })
}

/// An app as the commands show it.
pub fn app_json(app: &ClientApp) -> Value {
    json!({
        "id": app.app_id,
        "name": app.name,
        "origins": app.origins,
        "created_at": chrono::DateTime::from_timestamp(app.created_at, 0).map(|t| t.to_rfc3339()),
    })
}

fn app_line(app: &ClientApp) -> String {
    format!("{}  {}  {}", app.app_id, app.name, app.origins.join(" "))
}

pub async fn apps(accounts: &Accounts, command: AppsCommand) -> Result<(), AdminError> {
    match command {
        AppsCommand::Add {
            name,
            origins,
            id,
            json,
        } => {
            let app = accounts.add_app(&name, &origins, id.as_deref()).await?;
            print(json, app_json(&app), format!("added {}", app_line(&app)));
        }
        AppsCommand::List { json } => {
            let apps = accounts.apps().await?;
            let text = apps.iter().map(app_line).collect::<Vec<_>>().join("\n");
            print(
                json,
                Value::Array(apps.iter().map(app_json).collect()),
                text,
            );
        }
        AppsCommand::Remove { app_id, json } => {
            accounts.remove_app(&app_id).await?;
            print(
                json,
                json!({"removed": app_id}),
                format!("removed app {app_id}"),
            );
        }
        AppsCommand::SetOrigins {
            app_id,
            origins,
            json,
        } => {
            let app = accounts.set_app_origins(&app_id, &origins).await?;
            print(json, app_json(&app), format!("updated {}", app_line(&app)));
        }
    }
    Ok(())
}

fn user_line(user: &User) -> String {
    let state = match (user.locked_at, user.confirmed_at) {
        (Some(_), _) => "locked",
        (None, None) => "unconfirmed",
        (None, Some(_)) => "active",
    };
    format!(
        "{:>6}  {:<10}  {:<11}  {}{}",
        user.id,
        user.provider,
        state,
        user.uid,
        user.email
            .as_deref()
            .filter(|e| *e != user.uid)
            .map(|e| format!("  <{e}>"))
            .unwrap_or_default()
    )
}

fn device_line(device: &Device) -> String {
    let j = device_json(device);
    format!(
        "{:>6}  {}  expires {}  last used {}{}",
        device.id,
        device.client,
        j["expiry"].as_str().unwrap_or("-"),
        j["last_used_at"].as_str().unwrap_or("-"),
        if is_bcrypt(&device.token_hash) {
            "  (imported, not used yet)"
        } else {
            ""
        }
    )
}

fn print(json_out: bool, value: Value, text: String) {
    if json_out {
        println!("{value:#}");
    } else {
        println!("{text}");
    }
}

/// Reads a new password: asked for twice without echo on a terminal, otherwise the first
/// line of standard input (never from the command line, where `ps` and shell history would
/// see it).
pub fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            anyhow::bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok(password.to_string())
}

pub async fn users(accounts: &Accounts, command: UsersCommand) -> Result<(), AdminError> {
    match command {
        UsersCommand::List {
            limit,
            offset,
            json,
        } => {
            let users = accounts.store.list_users(offset, limit).await?;
            let text = users.iter().map(user_line).collect::<Vec<_>>().join("\n");
            print(
                json,
                Value::Array(users.iter().map(user_json).collect()),
                text,
            );
        }
        UsersCommand::Show { user, json } => {
            let user = accounts.find_user_ref(&user).await?;
            let devices = accounts.store.devices_of(user.id).await?;
            let mut value = user_json(&user);
            value["devices"] = devices.iter().map(device_json).collect();
            let mut text = format!("{value:#}");
            if !json {
                text = user_line(&user);
                for d in &devices {
                    text.push_str(&format!("\n  device {}", device_line(d)));
                }
            }
            print(json, value, text);
        }
        UsersCommand::Create {
            email,
            confirmed,
            json,
        } => {
            let password = read_password()?;
            let user = accounts
                .admin_create_user(&email, &password, confirmed)
                .await?;
            print(
                json,
                user_json(&user),
                format!("created {}", user_line(&user)),
            );
        }
        UsersCommand::Confirm { user, json } => {
            let user = accounts.find_user_ref(&user).await?;
            let user = accounts.admin_confirm(&user).await?;
            print(
                json,
                user_json(&user),
                format!("confirmed {}", user_line(&user)),
            );
        }
        UsersCommand::Lock { user, json } => {
            let user = accounts.find_user_ref(&user).await?;
            let user = accounts.admin_lock(&user).await?;
            print(
                json,
                user_json(&user),
                format!("locked {}", user_line(&user)),
            );
        }
        UsersCommand::Unlock { user, json } => {
            let user = accounts.find_user_ref(&user).await?;
            let user = accounts.admin_unlock(&user).await?;
            print(
                json,
                user_json(&user),
                format!("unlocked {}", user_line(&user)),
            );
        }
        UsersCommand::Delete { user, json } => {
            let user = accounts.find_user_ref(&user).await?;
            let devices = accounts.admin_delete(&user).await?;
            print(
                json,
                json!({"deleted": user.id, "devices": devices}),
                format!("deleted user {} and {devices} device(s)", user.id),
            );
        }
        UsersCommand::SetPassword { user, json } => {
            let user = accounts.find_user_ref(&user).await?;
            let password = read_password()?;
            let user = accounts.admin_set_password(&user, &password).await?;
            print(
                json,
                user_json(&user),
                format!("password set for {}", user_line(&user)),
            );
        }
    }
    Ok(())
}

pub async fn devices(accounts: &Accounts, command: DevicesCommand) -> Result<(), AdminError> {
    match command {
        DevicesCommand::List { user, json } => {
            let user = accounts.find_user_ref(&user).await?;
            let devices = accounts.store.devices_of(user.id).await?;
            let text = devices
                .iter()
                .map(device_line)
                .collect::<Vec<_>>()
                .join("\n");
            print(json, devices.iter().map(device_json).collect(), text);
        }
        DevicesCommand::Revoke { device, all, json } => match (device, all) {
            (Some(id), _) => {
                let device = accounts.admin_revoke_device(id).await?;
                print(
                    json,
                    json!({"revoked": 1, "user_id": device.user_id, "device_id": id}),
                    format!("revoked device {id} of user {}", device.user_id),
                );
            }
            (None, Some(user)) => {
                let user = accounts.find_user_ref(&user).await?;
                let count = accounts.admin_revoke_all(&user).await?;
                print(
                    json,
                    json!({"revoked": count, "user_id": user.id}),
                    format!("revoked {count} device(s) of user {}", user.id),
                );
            }
            (None, None) => {
                return Err(AdminError::Invalid(vec![
                    "name a device id, or --all USER".into(),
                ]));
            }
        },
    }
    Ok(())
}

/// `toker import dta`: the import with a progress bar on stderr (when it is a terminal),
/// then the summary (or the JSON report) on stdout.
pub async fn import(accounts: &Accounts, command: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::Dta {
        from,
        table,
        maps,
        dry_run,
        json,
    } = command;
    let options = import::Options {
        from,
        table,
        maps,
        dry_run,
    };
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}",
    )?);
    // indicatif draws nothing when stderr is not a terminal (a log file, journald, a pipe):
    // a long import then says how far it got in a line every few seconds instead.
    let reporter = (!std::io::stderr().is_terminal()).then(|| {
        let bar = bar.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PROGRESS_EVERY);
            every.tick().await;
            loop {
                every.tick().await;
                eprintln!("{}", progress_line(&bar));
            }
        })
    });
    let report = import::run(&accounts.store, &options, &bar).await;
    if let Some(reporter) = reporter {
        reporter.abort();
        eprintln!("{}", progress_line(&bar));
    }
    bar.finish_and_clear();
    let report = report?;
    if json {
        println!("{:#}", serde_json::to_value(&report)?);
    } else {
        print!("{}", report.summary());
    }
    std::io::stdout().flush()?;
    Ok(())
}

/// How often an import reports its progress when stderr is not a terminal.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// `import: 1200/50000 rows (2.4 %), 310 rows/s, about 2m 37s left`.
fn progress_line(bar: &indicatif::ProgressBar) -> String {
    let done = bar.position();
    let total = bar.length().unwrap_or(0).max(done);
    let share = if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    };
    let rate = bar.per_sec();
    let left = if done >= total {
        "done".to_string()
    } else if rate > 0.0 {
        format!(
            "about {} left",
            indicatif::HumanDuration(std::time::Duration::from_secs_f64(
                (total - done) as f64 / rate
            ))
        )
    } else {
        "estimating".to_string()
    };
    format!("import: {done}/{total} rows ({share:.1} %), {rate:.0} rows/s, {left}")
}

#[cfg(test)]
mod tests {
    use super::progress_line;

    #[test]
    fn the_progress_line_names_rows_share_rate_and_what_is_left() {
        let bar = indicatif::ProgressBar::hidden();
        bar.set_length(200);
        bar.set_position(50);
        let line = progress_line(&bar);
        assert!(line.starts_with("import: 50/200 rows (25.0 %), "), "{line}");
        assert!(
            line.ends_with("left") || line.ends_with("estimating"),
            "{line}"
        );
        bar.set_position(200);
        assert!(progress_line(&bar).ends_with("done"));
        let empty = indicatif::ProgressBar::hidden();
        assert_eq!(
            progress_line(&empty),
            "import: 0/0 rows (100.0 %), 0 rows/s, done"
        );
    }
}
