//! One TLS implementation for every client patgate opens (SMTP, webhooks): rustls with ring,
//! installed as the process default before the first client is built.

/// Installs ring as rustls's default provider; harmless when one is installed already.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
