//! TLS for the built-in target (`stampede target --tls`): a CA and a server certificate for
//! `localhost`, `127.0.0.1` and `::1` generated at start (rcgen), the CA written as PEM for
//! clients to trust, ALPN `h2` and `http/1.1`, and session tickets so clients can resume.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::Path;
use std::sync::Arc;

/// The names the generated server certificate holds.
pub const NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A generated certificate authority and the server's certificate, signed by it.
pub struct Generated {
    /// The CA certificate, PEM: what a client passes as `http.tls.ca_file`.
    pub ca_pem: String,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

/// Make a fresh CA and a server certificate for `NAMES`, valid from a day ago for a year.
pub fn generate() -> Result<Generated, rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    let now = std::time::SystemTime::now();
    let day = std::time::Duration::from_secs(86_400);
    let validity = |p: &mut CertificateParams| {
        p.not_before = (now - day).into();
        p.not_after = (now + 365 * day).into();
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "stampede target CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut ca);
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate()?;
    let mut server = CertificateParams::new(NAMES.map(String::from).to_vec())?;
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.use_authority_key_identifier_extension = true;
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut server);
    let cert = server.signed_by(&key, &issuer)?;
    Ok(Generated {
        ca_pem: ca_cert.pem(),
        chain: vec![cert.der().clone(), ca_cert.der().clone()],
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    })
}

impl Generated {
    /// The server side: ALPN h2 and http/1.1, TLS 1.2 and 1.3, stateless session tickets.
    pub fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                self.chain.clone(),
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        cfg.ticketer = rustls::crypto::ring::Ticketer::new()?;
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
    }

    /// Write the CA certificate to `path`.
    pub fn write_ca(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, &self.ca_pem)
    }
}

/// A protocol version as the stats show it (`TLSv1_3`).
pub fn version_name(v: Option<rustls::ProtocolVersion>) -> String {
    v.map_or_else(|| "unknown".to_string(), |v| format!("{v:?}"))
}
