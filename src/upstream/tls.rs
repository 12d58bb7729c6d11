//! TLS client configuration: rustls with the `ring` provider and the Mozilla
//! root set (webpki-roots), so the gateway needs no system certificate store;
//! optionally extra CAs from a PEM file (private CAs, inspecting proxies).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// Build the upstream TLS configuration; fails only on a bad `extra_ca_file`.
pub fn client_config(extra_ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca_file {
        let shown = path.display();
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("extra CA file {shown}: {e}"))?
        {
            let cert = cert.map_err(|e| format!("extra CA file {shown}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("extra CA file {shown}: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("extra CA file {shown}: no PEM certificates found"));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
