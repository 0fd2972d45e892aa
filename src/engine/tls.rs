//! TLS for the engine's connections (rustls with the ring provider: no OpenSSL, no cmake).
//!
//! One `ClientConfig` per run, shared by every worker and VU: its session cache is what lets a
//! VU that reconnects resume its TLS session, as a browser does (`http.tls.resumption: false`
//! turns that off). Certificates are verified against the system roots, or against
//! `http.tls.ca_file` instead; `--insecure` accepts any certificate but still checks the
//! handshake signatures. Handshake failures are classified by reason (`TlsReason`).

use crate::metrics::TlsReason;
use crate::plan::{HttpVersion, Target, TlsOptions};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;

/// What a VU's client needs to open TLS connections to the target.
pub struct Tls {
    pub connector: tokio_rustls::TlsConnector,
    /// SNI and the name the certificate must hold: `http.tls.server_name`, else the URL host.
    pub server_name: ServerName<'static>,
}

/// ALPN protocols offered for an HTTP version.
pub fn alpn(version: HttpVersion) -> Vec<Vec<u8>> {
    match version {
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
        HttpVersion::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    }
}

/// Why the run's TLS configuration could not be built (each message names the setting).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("TLS setup: {0}")]
    Protocols(rustls::Error),
    #[error("TLS setup: {0}")]
    Verifier(rustls::client::VerifierBuilderError),
    #[error("http.tls.client_cert: {0}")]
    ClientCert(rustls::pki_types::pem::Error),
    #[error("http.tls.client_key: {0}")]
    ClientKey(rustls::pki_types::pem::Error),
    #[error("http.tls.client_cert/client_key: {0}")]
    ClientAuth(rustls::Error),
    #[error("`{0}` is not a valid TLS server name")]
    ServerName(String),
    #[error("http.tls.ca_file: {0}")]
    CaFile(rustls::pki_types::pem::Error),
    #[error("http.tls.ca_file: {0}")]
    CaFileCertificate(rustls::Error),
    #[error(
        "no trusted root certificates found on this system (install ca-certificates), or pass http.tls.ca_file"
    )]
    NoRoots,
}

/// The run's TLS client configuration for `target`.
pub fn setup(target: &Target, opts: &TlsOptions, version: HttpVersion) -> Result<Tls, SetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(SetupError::Protocols)?;
    let builder = if opts.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Verifier::new(opts, provider)?))
    };
    let mut config = match &opts.client_cert {
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert.0)
                .collect::<Result<_, _>>()
                .map_err(SetupError::ClientCert)?;
            let key = PrivateKeyDer::from_pem_slice(&key.0).map_err(SetupError::ClientKey)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(SetupError::ClientAuth)?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn(version);
    config.resumption = if opts.resumption {
        // Room for a ticket per VU of a big run.
        rustls::client::Resumption::in_memory_sessions(4096)
    } else {
        rustls::client::Resumption::disabled()
    };
    let name = opts
        .server_name
        .clone()
        .unwrap_or_else(|| target.host.clone());
    let server_name =
        ServerName::try_from(name.clone()).map_err(|_| SetupError::ServerName(name))?;
    Ok(Tls {
        connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        server_name,
    })
}

/// `ca_file`'s certificates, else the system's trusted roots.
fn roots(opts: &TlsOptions) -> Result<rustls::RootCertStore, SetupError> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(pem) = &opts.ca {
        for cert in CertificateDer::pem_slice_iter(&pem.0) {
            let cert = cert.map_err(SetupError::CaFile)?;
            roots.add(cert).map_err(SetupError::CaFileCertificate)?;
        }
        return Ok(roots);
    }
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(SetupError::NoRoots);
    }
    Ok(roots)
}

/// Certificate verification: rustls's WebPKI verifier (system roots, or `ca_file`), plus
/// pinning: a server certificate that is byte for byte one of `ca_file`'s certificates is
/// accepted without a chain (a self-signed development certificate, `CA:TRUE` or not), its
/// validity period and names still checked. Failures carry the precise reason (`Problem`).
#[derive(Debug)]
struct Verifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    /// `ca_file`'s certificates (empty without `ca_file`).
    pinned: Vec<CertificateDer<'static>>,
}

/// Certificate problems rustls has no name of its own for (carried in
/// `CertificateError::Other`, read back by `classify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    NotInCaFile,
    CaAsLeaf,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = match self {
            Problem::NotInCaFile => TlsReason::NotInCaFile,
            Problem::CaAsLeaf => TlsReason::CaAsLeaf,
        };
        f.write_str(r.describe())
    }
}

impl std::error::Error for Problem {}

fn problem(p: Problem) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(p))))
}

impl Verifier {
    fn new(opts: &TlsOptions, provider: Arc<CryptoProvider>) -> Result<Self, SetupError> {
        let roots = roots(opts)?;
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(SetupError::Verifier)?;
        let mut pinned = Vec::new();
        if let Some(pem) = &opts.ca {
            for cert in CertificateDer::pem_slice_iter(&pem.0) {
                pinned.push(cert.map_err(SetupError::CaFile)?);
            }
        }
        Ok(Verifier { webpki, pinned })
    }

    /// A pinned certificate: valid now, and for `name`.
    fn verify_pinned(
        end_entity: &CertificateDer<'_>,
        name: &ServerName<'_>,
        now: UnixTime,
    ) -> Result<(), rustls::Error> {
        let bad = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
        let (_, cert) = x509_parser::parse_x509_certificate(end_entity).map_err(|_| bad())?;
        let validity = cert.validity();
        let at =
            |t: i64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(t.max(0) as u64));
        let secs = now.as_secs() as i64;
        let (from, until) = (
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        );
        if secs < from {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYetContext {
                    time: now,
                    not_before: at(from),
                },
            ));
        }
        if secs > until {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ExpiredContext {
                    time: now,
                    not_after: at(until),
                },
            ));
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, name)
    }
}

/// True when the certificate says `CA:TRUE`.
fn is_ca(cert: &CertificateDer<'_>) -> bool {
    x509_parser::parse_x509_certificate(cert).is_ok_and(|(_, c)| c.is_ca())
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            Self::verify_pinned(end_entity, server_name, now)?;
            return Ok(ServerCertVerified::assertion());
        }
        self.webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer | CertificateError::Other(_),
                ) if !self.pinned.is_empty() && (is_ca(end_entity) || is_unknown_issuer(&e)) => {
                    problem(Problem::NotInCaFile)
                }
                rustls::Error::InvalidCertificate(CertificateError::Other(_))
                    if is_ca(end_entity) =>
                {
                    problem(Problem::CaAsLeaf)
                }
                e => e,
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

fn is_unknown_issuer(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    )
}

/// Why a handshake failed, from the error tokio-rustls returned.
pub fn classify(e: &std::io::Error) -> TlsReason {
    let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return TlsReason::HandshakeIo;
    };
    use rustls::Error as E;
    match err {
        E::InvalidCertificate(c) => {
            match c {
                CertificateError::UnknownIssuer => TlsReason::UnknownIssuer,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => TlsReason::NameMismatch,
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    TlsReason::Expired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    TlsReason::NotYetValid
                }
                CertificateError::Revoked => TlsReason::Revoked,
                CertificateError::InvalidPurpose
                | CertificateError::InvalidPurposeContext { .. } => TlsReason::InvalidPurpose,
                CertificateError::BadSignature => TlsReason::BadSignature,
                CertificateError::Other(o) => match o.0.downcast_ref::<Problem>() {
                    Some(Problem::NotInCaFile) => TlsReason::NotInCaFile,
                    Some(Problem::CaAsLeaf) => TlsReason::CaAsLeaf,
                    None => TlsReason::BadCertificate,
                },
                _ => TlsReason::BadCertificate,
            }
        }
        E::AlertReceived(_) => TlsReason::AlertReceived,
        E::PeerIncompatible(_) | E::NoApplicationProtocol => TlsReason::Incompatible,
        E::InvalidMessage(_)
        | E::InappropriateMessage { .. }
        | E::InappropriateHandshakeMessage { .. } => TlsReason::NotTls,
        _ => TlsReason::Other,
    }
}

/// `--insecure`: any certificate is accepted; handshake signatures are still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What the server's certificate says, for a run whose handshakes failed: one handshake to
/// `addr` that accepts any certificate and keeps it, then its names, validity, `CA:TRUE` and
/// issuer, against the name asked for. `None` when no certificate could be had in `timeout`.
pub fn describe_server_certificate(
    addr: std::net::SocketAddr,
    target: &Target,
    opts: &TlsOptions,
    timeout: std::time::Duration,
) -> Option<String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let seen = Arc::new(std::sync::Mutex::new(None));
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Keep(
            AcceptAnyCertificate(provider),
            seen.clone(),
        )))
        .with_no_client_auth();
    let name = opts
        .server_name
        .clone()
        .unwrap_or_else(|| target.host.clone());
    let server_name = ServerName::try_from(name.clone()).ok()?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), server_name).ok()?;
    let mut sock = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    sock.set_read_timeout(Some(timeout)).ok()?;
    sock.set_write_timeout(Some(timeout)).ok()?;
    while conn.is_handshaking() {
        if conn.complete_io(&mut sock).is_err() {
            break;
        }
    }
    let der: CertificateDer<'static> = seen.lock().ok()?.take()?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                x509_parser::extensions::GeneralName::DNSName(d) => names.push(format!("DNS:{d}")),
                x509_parser::extensions::GeneralName::IPAddress(ip) => match ip.len() {
                    4 => names.push(format!(
                        "IP:{}",
                        std::net::Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])
                    )),
                    16 => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(ip);
                        names.push(format!("IP:{}", std::net::Ipv6Addr::from(b)));
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    let names = if names.is_empty() {
        "no subjectAltName".to_string()
    } else {
        names.join(", ")
    };
    let v = cert.validity();
    let issuer = if cert.issuer() == cert.subject() {
        "self-signed".to_string()
    } else {
        format!("issued by {}", cert.issuer())
    };
    Some(format!(
        "the server's certificate is for {names} (subject {}), valid {} to {}, {}, {issuer}; stampede asked for `{name}`",
        cert.subject(),
        v.not_before,
        v.not_after,
        if cert.is_ca() { "CA:TRUE" } else { "not a CA" },
    ))
}

/// Accepts any certificate and keeps the server's.
#[derive(Debug)]
struct Keep(
    AcceptAnyCertificate,
    Arc<std::sync::Mutex<Option<CertificateDer<'static>>>>,
);

impl ServerCertVerifier for Keep {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.1.lock() {
            *seen = Some(end_entity.clone().into_owned());
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed `CA:TRUE` certificate for localhost, valid `from`..`until` days from now.
    fn pinned_cert(from: i64, until: i64) -> CertificateDer<'static> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        let now = std::time::SystemTime::now();
        let at = |d: i64| {
            let dt = std::time::Duration::from_secs(86_400 * d.unsigned_abs());
            if d < 0 { now - dt } else { now + dt }
        };
        let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.not_before = at(from).into();
        p.not_after = at(until).into();
        let key = KeyPair::generate().unwrap();
        p.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn a_pinned_certificate_is_still_checked_for_its_dates_and_name() {
        let now = UnixTime::now();
        let name = |n: &str| ServerName::try_from(n.to_string()).unwrap();
        let ok = pinned_cert(-1, 30);
        assert!(Verifier::verify_pinned(&ok, &name("localhost"), now).is_ok());
        let wrap = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let reason = |cert: &CertificateDer<'_>, n: &str| {
            classify(&wrap(
                Verifier::verify_pinned(cert, &name(n), now).unwrap_err(),
            ))
        };
        assert_eq!(reason(&ok, "other.example"), TlsReason::NameMismatch);
        assert_eq!(
            reason(&pinned_cert(-30, -1), "localhost"),
            TlsReason::Expired
        );
        assert_eq!(
            reason(&pinned_cert(1, 30), "localhost"),
            TlsReason::NotYetValid
        );
    }

    #[test]
    fn classifies_certificate_errors() {
        let wrap = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        assert_eq!(
            classify(&wrap(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))),
            TlsReason::UnknownIssuer
        );
        assert_eq!(
            classify(&wrap(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName
            ))),
            TlsReason::NameMismatch
        );
        assert_eq!(
            classify(&wrap(rustls::Error::InvalidCertificate(
                CertificateError::Expired
            ))),
            TlsReason::Expired
        );
        assert_eq!(
            classify(&std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
            TlsReason::HandshakeIo
        );
    }
}
