//! A real OAuth2 / OpenID Connect provider for the OAuth tests: `tests/oauth/provider.mjs`
//! (oauth2-mock-server on Node.js) on 127.0.0.1, one process per [`OAuthProvider`]. See the
//! comment at the top of provider.mjs for its HTTP interface. It also stands in for GitHub
//! (`GET /user`, `GET /user/emails`) when the GitHub URLs are pointed at it.

use std::{
    io::{BufRead, BufReader, Read},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, OnceLock, mpsc},
    time::Duration,
};

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A running provider; the process is killed on drop (and exits by itself if this test
/// process dies, as it watches its stdin).
pub struct OAuthProvider {
    pub port: u16,
    /// `http://127.0.0.1:<port>`, also the issuer.
    pub url: String,
    child: Child,
}

fn oauth_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oauth")
}

fn installed() -> bool {
    oauth_dir()
        .join("node_modules/oauth2-mock-server/package.json")
        .is_file()
}

/// `npm ci` in tests/oauth, once per test process, and under a file lock so that concurrent
/// test processes do not install over each other.
fn ensure_installed() {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    if let Err(e) = INSTALLED.get_or_init(npm_ci) {
        panic!("{e}");
    }
}

fn npm_ci() -> Result<(), String> {
    if installed() {
        return Ok(());
    }
    let dir = oauth_dir();
    let lock_path = std::env::temp_dir().join("toker-oauth-npm-ci.lock");
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if installed() {
        return Ok(());
    }
    let output = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .map_err(|e| {
            format!(
                "cannot run `npm ci` in {} (Node.js 20+ and npm must be on PATH): {e}",
                dir.display()
            )
        })?;
    if !output.status.success() || !installed() {
        return Err(format!(
            "`npm ci` in {} failed ({}); run it by hand to see why.\nstdout:\n{}\nstderr:\n{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

impl OAuthProvider {
    /// Installs the npm packages if needed, starts provider.mjs on a free port and waits for it.
    pub fn start() -> OAuthProvider {
        ensure_installed();
        let dir = oauth_dir();
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .args(["0", "--exit-on-stdin-eof"])
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `node` (Node.js 20+ must be on PATH) for tests/oauth/provider.mjs: {e}")
            });

        let stderr = child.stderr.take().expect("piped stderr");
        let errors = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&errors);
        std::thread::spawn(move || {
            let mut stderr = BufReader::new(stderr);
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]);
                if std::env::var_os("OAUTH_PROVIDER_LOG").is_some() {
                    eprint!("{text}");
                }
                sink.lock().expect("stderr buffer").push_str(&text);
            }
        });

        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut announced = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !announced && let Some(url) = line.strip_prefix("listening ") {
                    announced = true;
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });

        let url = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "tests/oauth/provider.mjs did not print its `listening` line ({e}; exit: {status:?}). \
                     It needs Node.js 20+ and `npm ci` in tests/oauth.\nstderr:\n{}",
                    errors.lock().expect("stderr buffer")
                );
            }
        };
        let port = url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected provider URL {url:?}"));
        OAuthProvider { port, url, child }
    }

    /// The issuer URL: what id_tokens carry as `iss` and discovery advertises.
    pub fn issuer(&self) -> String {
        self.url.clone()
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path} to the OAuth provider: {e}"));
        let status = response.status();
        let text = response.text().await.expect("provider response body");
        assert!(status.is_success(), "POST {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path}: {e}: {text}"))
    }

    /// The profile for the next logins: `/userinfo` and `GET /user` answer exactly this JSON,
    /// id_tokens carry its `sub`, `email`, `email_verified`, `name`.
    pub async fn set_profile(&self, profile: Value) {
        self.control("/__profile", profile).await;
    }

    /// A valid id_token for `client_id` (audience), signed with the provider's key.
    pub async fn id_token(&self, client_id: &str) -> String {
        let body = self
            .control("/__id_token", json!({ "client_id": client_id }))
            .await;
        body["id_token"].as_str().expect("id_token").to_owned()
    }

    /// Like [`Self::id_token`], but expired an hour ago.
    pub async fn expired_id_token(&self, client_id: &str) -> String {
        let body = self
            .control("/__expired_id_token", json!({ "client_id": client_id }))
            .await;
        body["id_token"].as_str().expect("id_token").to_owned()
    }

    /// An id_token for `client_id` with `claims` changed (`null` leaves a claim out) and JWT
    /// `header` fields overridden, signed with the provider's key.
    pub async fn id_token_with(&self, client_id: &str, claims: Value, header: Value) -> String {
        let body = self
            .control(
                "/__id_token",
                json!({ "client_id": client_id, "claims": claims, "header": header }),
            )
            .await;
        body["id_token"].as_str().expect("id_token").to_owned()
    }

    /// An access token issued to `client_id` for the current profile, live for `expires_in`
    /// seconds (0 or less: already expired).
    pub async fn access_token(&self, client_id: &str, expires_in: i64) -> String {
        let body = self
            .control(
                "/__access_token",
                json!({ "client_id": client_id, "expires_in": expires_in }),
            )
            .await;
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Makes the token checks name `subject` as the token's owner (`None`: the real one).
    pub async fn misreport_owner(&self, subject: Option<&str>) {
        self.control("/__check_subject", json!({ "subject": subject }))
            .await;
    }

    /// A new signing key for the id_tokens from now on (key rotation).
    pub async fn rotate_key(&self) -> String {
        let body = self.control("/__rotate_key", json!({})).await;
        body["kid"].as_str().expect("kid").to_owned()
    }

    /// The `Cache-Control` header `/jwks` answers with.
    pub async fn set_jwks_cache_control(&self, value: &str) {
        self.control("/__jwks", json!({ "cache_control": value }))
            .await;
    }

    /// How many times `/jwks` was fetched.
    pub async fn jwks_requests(&self) -> u64 {
        let stats: Value = reqwest::get(format!("{}/__stats", self.url))
            .await
            .expect("GET /__stats")
            .json()
            .await
            .expect("JSON");
        stats["jwks"].as_u64().expect("a count")
    }
}

impl Drop for OAuthProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ the provider's own tests

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload"))
        .expect("JSON payload")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// GET /authorize as a browser would; returns the `code` of the redirect back.
async fn authorize(provider: &OAuthProvider, client_id: &str, pkce: Option<&str>) -> String {
    let mut query = vec![
        ("response_type", "code".to_owned()),
        ("client_id", client_id.to_owned()),
        ("redirect_uri", REDIRECT.to_owned()),
        ("scope", "openid email profile".to_owned()),
        ("state", "s".to_owned()),
        ("nonce", "n-0S6_WzA2Mj".to_owned()),
    ];
    if let Some(verifier) = pkce {
        query.push(("code_challenge", challenge(verifier)));
        query.push(("code_challenge_method", "S256".to_owned()));
    }
    let response = no_redirects()
        .get(format!("{}/authorize", provider.url))
        .query(&query)
        .send()
        .await
        .expect("GET /authorize");
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().expect("ASCII");
    let location = url::Url::parse(location).expect("Location is a URL");
    assert_eq!(
        &location[..url::Position::AfterPath],
        REDIRECT,
        "back to redirect_uri"
    );
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some("s"));
    param("code").expect("a code")
}

/// POST /token (authorization_code grant); returns (status, JSON body).
async fn exchange(
    provider: &OAuthProvider,
    code: &str,
    verifier: Option<&str>,
    redirect_uri: &str,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", "c"),
        ("client_secret", "secret"),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    let response = reqwest::Client::new()
        .post(format!("{}/token", provider.url))
        .form(&form)
        .send()
        .await
        .expect("POST /token");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON token response"))
}

async fn get_json(provider: &OAuthProvider, path: &str, bearer: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", provider.url))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Checks `jwt`'s RS256 signature against the provider's /jwks, and its iss / aud / exp.
async fn verify(provider: &OAuthProvider, jwt: &str, audience: &str) -> Result<Value, String> {
    let jwks: jsonwebtoken::jwk::JwkSet = reqwest::get(format!("{}/jwks", provider.url))
        .await
        .expect("GET /jwks")
        .json()
        .await
        .expect("a JWK set");
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| e.to_string())?;
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let kid = header.kid.expect("a kid");
    let jwk = jwks.find(&kid).expect("the signing key is in /jwks");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("an RSA key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[provider.issuer()]);
    jsonwebtoken::decode::<Value>(jwt, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| format!("{:?}", e.kind()))
}

fn alice() -> Value {
    json!({
        "sub": "alice-sub-1",
        "email": "alice@example.com",
        "email_verified": true,
        "name": "Alice Liddell",
        "preferred_username": "alice",
        "picture": "https://example.com/alice.png",
        "login": "alice-gh",
        "id": 12345,
        "avatar_url": "https://example.com/alice-avatar.png"
    })
}

#[tokio::test]
async fn provider_discovery_document_and_jwks() {
    let provider = OAuthProvider::start();
    assert_eq!(provider.url, format!("http://127.0.0.1:{}", provider.port));
    let doc: Value = reqwest::get(format!("{}/.well-known/openid-configuration", provider.url))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("JSON");
    let url = &provider.url;
    assert_eq!(doc["issuer"], provider.issuer());
    assert_eq!(doc["authorization_endpoint"], format!("{url}/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{url}/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{url}/userinfo"));
    assert_eq!(doc["jwks_uri"], format!("{url}/jwks"));
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let methods = doc["code_challenge_methods_supported"]
        .as_array()
        .expect("list");
    assert!(methods.contains(&json!("S256")), "{doc}");

    let jwks: Value = reqwest::get(format!("{url}/jwks"))
        .await
        .expect("jwks")
        .json()
        .await
        .expect("JSON");
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert!(keys[0].get("d").is_none(), "no private part in /jwks");
}

#[tokio::test]
async fn provider_authorization_code_round_trip_with_pkce() {
    let provider = OAuthProvider::start();
    provider.set_profile(alice()).await;
    let code = authorize(&provider, "c", Some(VERIFIER)).await;
    let (status, tokens) = exchange(&provider, &code, Some(VERIFIER), REDIRECT).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let access_token = tokens["access_token"].as_str().expect("access_token");
    let id_token = tokens["id_token"].as_str().expect("id_token");

    let id = verify(&provider, id_token, "c")
        .await
        .expect("a valid id_token");
    assert_eq!(id["iss"], provider.issuer());
    assert_eq!(id["aud"], "c");
    assert_eq!(id["sub"], "alice-sub-1");
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["name"], "Alice Liddell");
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert!(id["exp"].as_i64().expect("exp") > now());

    assert_eq!(
        get_json(&provider, "/userinfo", access_token).await,
        (200, alice())
    );
    assert_eq!(
        get_json(&provider, "/user", access_token).await,
        (200, alice())
    );
    assert_eq!(
        get_json(&provider, "/user/emails", access_token).await,
        (
            200,
            json!([{ "email": "alice@example.com", "primary": true, "verified": true }])
        )
    );

    // Real providers do not take the same code twice.
    let (status, body) = exchange(&provider, &code, Some(VERIFIER), REDIRECT).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
    let (status, body) = exchange(&provider, &code, None, REDIRECT).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
    // Nor one they never issued.
    let (status, body) = exchange(&provider, "made-up", None, REDIRECT).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
}

#[tokio::test]
async fn provider_rejects_bad_pkce_and_mismatched_redirect_uri() {
    let provider = OAuthProvider::start();
    let wrong = "x".repeat(43);

    let code = authorize(&provider, "c", Some(VERIFIER)).await;
    let (status, body) = exchange(&provider, &code, Some(&wrong), REDIRECT).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );

    let code = authorize(&provider, "c", Some(VERIFIER)).await;
    let (status, body) = exchange(&provider, &code, None, REDIRECT).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );

    let code = authorize(&provider, "c", Some(VERIFIER)).await;
    let (status, body) =
        exchange(&provider, &code, Some(VERIFIER), "http://127.0.0.1:9/other").await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("invalid_grant")),
        "{body}"
    );

    // Without PKCE on either side the exchange works.
    let code = authorize(&provider, "c", None).await;
    let (status, body) = exchange(&provider, &code, None, REDIRECT).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn provider_rejects_tokens_it_did_not_issue() {
    let provider = OAuthProvider::start();
    for path in ["/userinfo", "/user", "/user/emails"] {
        let (status, _) = get_json(&provider, path, "forged").await;
        assert_eq!(status, 401, "{path} with a forged token");
        let response = reqwest::get(format!("{}{path}", provider.url))
            .await
            .expect("GET");
        assert_eq!(response.status(), 401, "{path} without a token");
    }
    // An id_token is no access token either.
    let id_token = provider.id_token("c").await;
    let (status, _) = get_json(&provider, "/userinfo", &id_token).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn provider_profile_is_taken_at_login() {
    let provider = OAuthProvider::start();
    provider.set_profile(alice()).await;
    let first = authorize(&provider, "c", None).await;
    let bob =
        json!({ "login": "bob", "id": 7, "email": "bob@example.com", "email_verified": false });
    provider.set_profile(bob.clone()).await;
    let second = authorize(&provider, "c", None).await;

    let (_, tokens) = exchange(&provider, &second, None, REDIRECT).await;
    let token = tokens["access_token"].as_str().expect("access_token");
    assert_eq!(
        get_json(&provider, "/userinfo", token).await,
        (200, bob.clone())
    );
    assert_eq!(
        get_json(&provider, "/user/emails", token).await,
        (
            200,
            json!([{ "email": "bob@example.com", "primary": true, "verified": false }])
        )
    );
    let id = claims(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(id["sub"], "7", "without `sub`, the GitHub id");
    assert_eq!(id["email_verified"], false);

    let (_, tokens) = exchange(&provider, &first, None, REDIRECT).await;
    let token = tokens["access_token"].as_str().expect("access_token");
    assert_eq!(
        get_json(&provider, "/userinfo", token).await,
        (200, alice())
    );
}

/// Asks the provider's four "who was this token issued to?" endpoints about `token`, as client
/// `client`: the status and JSON body of GitHub's, Google's, Facebook's and RFC 7662's answer.
async fn token_checks(provider: &OAuthProvider, client: &str, token: &str) -> [(u16, Value); 4] {
    let http = reqwest::Client::new();
    let url = &provider.url;
    let requests = [
        http.post(format!("{url}/applications/{client}/token"))
            .basic_auth(client, Some("secret"))
            .json(&json!({ "access_token": token })),
        http.get(format!("{url}/tokeninfo"))
            .query(&[("access_token", token)]),
        http.get(format!("{url}/debug_token")).query(&[
            ("input_token", token),
            ("access_token", &format!("{client}|secret")),
        ]),
        http.post(format!("{url}/introspect"))
            .basic_auth(client, Some("secret"))
            .form(&[("token", token)]),
    ];
    let mut answers = Vec::new();
    for request in requests {
        let response = request.send().await.expect("a token check");
        let status = response.status().as_u16();
        answers.push((status, response.json().await.unwrap_or(Value::Null)));
    }
    answers.try_into().expect("four answers")
}

#[tokio::test]
async fn provider_says_which_client_an_access_token_was_issued_to() {
    let provider = OAuthProvider::start();
    provider.set_profile(alice()).await;
    let token = provider.access_token("c", 3600).await;

    let [github, google, facebook, introspection] = token_checks(&provider, "c", &token).await;
    assert_eq!(github.0, 200, "{}", github.1);
    assert_eq!(github.1["app"]["client_id"], "c");
    assert_eq!(github.1["user"]["id"], 12345);
    assert_eq!(google.0, 200);
    assert_eq!(
        (&google.1["aud"], &google.1["azp"]),
        (&json!("c"), &json!("c"))
    );
    assert_eq!(google.1["sub"], "alice-sub-1");
    assert!(
        google.1["expires_in"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 3000
    );
    assert_eq!(facebook.0, 200);
    assert_eq!(facebook.1["data"]["app_id"], "c");
    assert_eq!(facebook.1["data"]["is_valid"], true);
    assert_eq!(facebook.1["data"]["user_id"], "12345");
    assert_eq!(introspection.1["active"], true);
    assert_eq!(introspection.1["client_id"], "c");
    assert_eq!(introspection.1["sub"], "alice-sub-1");

    // Asked by another client: GitHub and Facebook refuse, the others name the real client.
    let [github, google, facebook, introspection] = token_checks(&provider, "d", &token).await;
    assert_eq!(github.0, 404);
    assert_eq!(google.1["aud"], "c");
    assert_eq!(facebook.0, 400);
    assert_eq!(introspection.1["client_id"], "c");

    // Unknown and expired tokens.
    let expired = provider.access_token("c", -10).await;
    for bad in ["forged", expired.as_str()] {
        let [github, google, facebook, introspection] = token_checks(&provider, "c", bad).await;
        assert_eq!(github.0, 404, "{bad}");
        assert_eq!(google.0, 400, "{bad}");
        assert_eq!(facebook.1["data"]["is_valid"], false, "{bad}");
        assert_eq!(introspection.1, json!({"active": false}), "{bad}");
    }
    // Introspection wants client authentication.
    let anonymous = reqwest::Client::new()
        .post(format!("{}/introspect", provider.url))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn provider_rotates_keys_and_counts_key_set_fetches() {
    let provider = OAuthProvider::start();
    let before = claims_header(&provider.id_token("c").await);
    provider.set_jwks_cache_control("max-age=7").await;
    let response = reqwest::get(format!("{}/jwks", provider.url))
        .await
        .unwrap();
    assert_eq!(response.headers()["cache-control"], "max-age=7");
    let kid = provider.rotate_key().await;
    let after = claims_header(&provider.id_token("c").await);
    assert_ne!(before["kid"], after["kid"]);
    assert_eq!(after["kid"], kid);
    let jwks: Value = reqwest::get(format!("{}/jwks", provider.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert_eq!(provider.jwks_requests().await, 2);
    let custom = claims_header(
        &provider
            .id_token_with("c", json!({"iss": null}), json!({"typ": "at+jwt"}))
            .await,
    );
    assert_eq!(custom["typ"], "at+jwt");
}

fn claims_header(jwt: &str) -> Value {
    let header = jwt.split('.').next().expect("a JWT has a header");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url header"))
        .expect("JSON header")
}

#[tokio::test]
async fn provider_answers_form_post_authorizations_with_a_posting_page() {
    let provider = OAuthProvider::start();
    let response = no_redirects()
        .get(format!("{}/authorize", provider.url))
        .query(&[
            ("response_type", "code"),
            ("client_id", "c"),
            ("redirect_uri", REDIRECT),
            ("state", "s\"<"),
            ("response_mode", "form_post"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(&format!("<form method=\"post\" action=\"{REDIRECT}\">")),
        "{html}"
    );
    assert!(html.contains("name=\"code\" value=\""), "{html}");
    assert!(
        html.contains("name=\"state\" value=\"s&#34;&#60;\""),
        "{html}"
    );
}

#[tokio::test]
async fn provider_issues_valid_and_expired_id_tokens() {
    let provider = OAuthProvider::start();
    provider.set_profile(alice()).await;

    let token = provider.id_token("native-client").await;
    let id = verify(&provider, &token, "native-client")
        .await
        .expect("a valid id_token");
    assert_eq!(id["sub"], "alice-sub-1");
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["name"], "Alice Liddell");
    assert!(id["exp"].as_i64().expect("exp") > now());
    assert_eq!(
        verify(&provider, &token, "someone-else").await,
        Err("InvalidAudience".to_owned())
    );

    let expired = provider.expired_id_token("native-client").await;
    let id = claims(&expired);
    assert_eq!(id["aud"], "native-client");
    assert_eq!(id["iss"], provider.issuer());
    assert_eq!(id["sub"], "alice-sub-1");
    assert!(id["exp"].as_i64().expect("exp") < now() - 60, "{id}");
    assert_eq!(
        verify(&provider, &expired, "native-client").await,
        Err("ExpiredSignature".to_owned()),
        "signed with the real key, only expired"
    );
}
