//! HTTPS without a proxy: `tls_cert` and `tls_key` (PEM files) turn the public listener into a
//! TLS one offering HTTP/2 and HTTP/1.1 (ALPN). The files are read again on SIGHUP: the new
//! certificate serves the handshakes that follow, while connections already open keep theirs
//! and go on undisturbed. A reload that fails keeps the certificate in use.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

/// The certificate files and the server configuration last built from them.
#[derive(Debug)]
pub struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
    config: ArcSwap<ServerConfig>,
}

impl TlsFiles {
    /// Reads both files; an error names the setting whose file is unusable.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<TlsFiles> {
        let config = server_config(cert, key)?;
        Ok(TlsFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            config: ArcSwap::from_pointee(config),
        })
    }

    /// Reads the files again (SIGHUP); on success new handshakes use them. On failure the
    /// certificate in use stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let config = server_config(&self.cert, &self.key)?;
        self.config.store(Arc::new(config));
        Ok(())
    }

    /// The configuration for the next handshake.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.config.load_full()
    }
}

fn server_config(cert_path: &Path, key_path: &Path) -> anyhow::Result<ServerConfig> {
    let read = |setting: &str, path: &Path| {
        std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("invalid setting `{setting}`: {}: {e}", path.display()))
    };
    let cert_pem = read("tls_cert", cert_path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            anyhow::anyhow!(
                "invalid setting `tls_cert`: {}: not a PEM certificate chain ({e})",
                cert_path.display()
            )
        })?;
    if certs.is_empty() {
        anyhow::bail!(
            "invalid setting `tls_cert`: {}: no PEM certificate in it",
            cert_path.display()
        );
    }
    let key_pem = read("tls_key", key_path)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        anyhow::anyhow!(
            "invalid setting `tls_key`: {}: no PEM private key in it ({e})",
            key_path.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS set-up: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            anyhow::anyhow!(
                "invalid setting `tls_key`: {} does not fit the certificate of `tls_cert` ({e})",
                key_path.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
