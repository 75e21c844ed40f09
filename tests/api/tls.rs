//! HTTPS without a proxy (issue 14 §3): `tls_cert` and `tls_key` with certificates the test
//! makes (rcgen); HTTP/2 by ALPN; a reload (what SIGHUP calls, and SIGHUP itself sent to a
//! real `toker serve`) serves the new certificate to new connections while open ones go on;
//! unusable files stop startup naming the setting.

use std::path::Path;

use reqwest::Version;
use toker::{config::Settings, startup::Application};

use crate::{
    helpers::{fresh_database, test_settings},
    support::{certs::TestCa, serve::Serve},
};

fn tls_settings(database_url: &str, cert: &Path, key: &Path) -> Settings {
    Settings {
        tls_cert: Some(cert.display().to_string()),
        tls_key: Some(key.display().to_string()),
        ..test_settings(database_url)
    }
}

async fn ping(client: &reqwest::Client, base: &str) -> reqwest::Result<reqwest::Response> {
    client.get(format!("{base}/ping")).send().await
}

#[tokio::test]
async fn https_serves_http2_and_http1_with_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("toker test CA");
    let (cert, key) = ca.write_server_cert(dir.path());
    let db = fresh_database().await;
    let app = Application::build(tls_settings(&db.url, &cert, &key))
        .await
        .expect("builds with TLS");
    let base = format!("https://localhost:{}", app.port());
    let server = tokio::spawn(app.run());

    let h2 = ping(&ca.client(), &base).await.expect("HTTPS request");
    assert_eq!(h2.status(), 200);
    assert_eq!(h2.version(), Version::HTTP_2, "ALPN did not choose h2");

    let h1_client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap())
        .http1_only()
        .build()
        .unwrap();
    let h1 = ping(&h1_client, &base).await.expect("HTTPS over HTTP/1.1");
    assert_eq!(h1.status(), 200);
    assert_eq!(h1.version(), Version::HTTP_11);

    // The API itself over TLS: a sign-up and the token it hands out.
    let resp = ca
        .client()
        .post(format!("{base}/auth"))
        .json(&serde_json::json!({
            "email": "tls@example.com",
            "password": "password1",
            "password_confirmation": "password1",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("access-token"));

    // Plain HTTP on the TLS port gets no answer.
    let plain = crate::helpers::client()
        .get(format!(
            "http://127.0.0.1:{}/ping",
            base.rsplit(':').next().unwrap()
        ))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    server.abort();
}

#[tokio::test]
async fn a_reload_serves_the_new_certificate_while_open_connections_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let (old_ca, new_ca) = (TestCa::new("old CA"), TestCa::new("new CA"));
    let (cert, key) = old_ca.write_server_cert(dir.path());
    let db = fresh_database().await;
    let app = Application::build(tls_settings(&db.url, &cert, &key))
        .await
        .unwrap();
    let base = format!("https://localhost:{}", app.port());
    let tls = app.tls().expect("TLS on");
    let server = tokio::spawn(app.run());

    // One connection, open across the reload (HTTP/2: every request of this client uses it).
    let open = old_ca.client();
    assert_eq!(ping(&open, &base).await.unwrap().status(), 200);

    new_ca.write_server_cert(dir.path());
    toker::startup::reload_tls(&tls);

    // A new handshake would fail for a client trusting the old CA only, so this answer came
    // over the connection opened before the reload.
    assert_eq!(ping(&open, &base).await.unwrap().status(), 200);
    assert_eq!(ping(&new_ca.client(), &base).await.unwrap().status(), 200);
    assert!(
        ping(&old_ca.client(), &base).await.is_err(),
        "a new connection still got the old certificate"
    );

    // Broken files: the reload fails and the certificate in use stays.
    std::fs::write(&key, "not a key").unwrap();
    assert!(tls.reload().unwrap_err().to_string().contains("`tls_key`"));
    assert_eq!(ping(&new_ca.client(), &base).await.unwrap().status(), 200);
    server.abort();
}

#[tokio::test]
async fn sighup_makes_a_running_toker_serve_the_new_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/toker.db?mode=rwc", db.path().display());
    let (old_ca, new_ca) = (TestCa::new("old CA"), TestCa::new("new CA"));
    let (cert, key) = old_ca.write_server_cert(dir.path());
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let mut serve = Serve::start(&url, &[("TOKER_TLS_CERT", &cert), ("TOKER_TLS_KEY", &key)]).await;
    assert!(serve.address.starts_with("https://"), "{}", serve.address);
    let open = old_ca.client();
    assert_eq!(ping(&open, &serve.address).await.unwrap().status(), 200);

    new_ca.write_server_cert(dir.path());
    serve.signal("HUP");
    serve
        .wait_for_line(|l| l.contains("TLS certificate reloaded"))
        .await;

    assert_eq!(ping(&open, &serve.address).await.unwrap().status(), 200);
    assert_eq!(
        ping(&new_ca.client(), &serve.address)
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(ping(&old_ca.client(), &serve.address).await.is_err());
}

#[tokio::test]
async fn unusable_certificate_files_stop_startup_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("CA");
    let (cert, key) = ca.write_server_cert(dir.path());
    let (other_cert, _) = ca.server_cert();
    let other = dir.path().join("other.pem");
    std::fs::write(&other, other_cert).unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN NOTHING-----\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let db = fresh_database().await;

    let cases = [
        (missing.as_path(), key.as_path(), "`tls_cert`"),
        (garbage.as_path(), key.as_path(), "`tls_cert`"),
        (cert.as_path(), missing.as_path(), "`tls_key`"),
        (cert.as_path(), garbage.as_path(), "`tls_key`"),
        // The key of another certificate.
        (other.as_path(), key.as_path(), "`tls_key`"),
    ];
    for (cert, key, setting) in cases {
        let e = Application::build(tls_settings(&db.url, cert, key))
            .await
            .err()
            .unwrap_or_else(|| panic!("{cert:?} + {key:?} accepted"));
        assert!(e.to_string().contains(setting), "{setting}: {e}");
    }
}

#[tokio::test]
async fn sighup_without_tls_leaves_the_server_running() {
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/toker.db?mode=rwc", db.path().display());
    let mut serve = Serve::start(&url, &[]).await;

    serve.signal("HUP");
    serve
        .wait_for_line(|l| l.contains("SIGHUP: nothing to reload"))
        .await;

    let resp = ping(&crate::helpers::client(), &serve.address)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
