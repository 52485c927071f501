//! The control channel: JSON-RPC over HTTPS, certificate always verified
//! (the system's roots, or `[odoo_platform] ca_file`). ureq is blocking, so
//! each call runs on tokio's blocking pool; calls are few (one every 5 s).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// The script's timeout per call (`REQUEST_TIMEOUT`).
const TIMEOUT: Duration = Duration::from_secs(60);
/// A log range larger than this is read in several polls.
const MAX_BODY: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The platform answered with an error of its own (`result.error` or a JSON-RPC error).
    #[error("{0}")]
    Refused(String),
    /// Not reachable, TLS refused, timed out: nothing was decided there.
    #[error("Odoo's upgrade platform at {url} cannot be reached: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("Odoo's upgrade platform answered {endpoint} with {detail}")]
    Bad { endpoint: String, detail: String },
    #[error("{0}")]
    Config(String),
}

#[derive(Clone)]
pub struct Rpc {
    agent: ureq::Agent,
    base: String,
}

impl std::fmt::Debug for Rpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rpc").field("base", &self.base).finish()
    }
}

/// The roots a certificate must lead to: the PEM file given, else the system's.
fn roots(ca_file: Option<&Path>) -> Result<Vec<Certificate<'static>>, RpcError> {
    let ders: Vec<CertificateDer<'static>> = match ca_file {
        Some(p) => {
            let certs = CertificateDer::pem_file_iter(p)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    RpcError::Config(format!(
                        "[odoo_platform] ca_file {}: cannot read it as PEM certificates: {e}",
                        p.display()
                    ))
                })?;
            if certs.is_empty() {
                return Err(RpcError::Config(format!(
                    "[odoo_platform] ca_file {} holds no certificate",
                    p.display()
                )));
            }
            certs
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            if found.certs.is_empty() {
                return Err(RpcError::Config(
                    "no system CA certificates found (install ca-certificates, or set [odoo_platform] ca_file)".into(),
                ));
            }
            found.certs
        }
    };
    Ok(ders
        .iter()
        .map(|d| Certificate::from_der(d.as_ref()).to_owned())
        .collect())
}

/// Only https: the token and the contract travel in these calls.
pub fn check_url(url: &str) -> Result<(), RpcError> {
    if !url.starts_with("https://") || url.len() <= "https://".len() {
        return Err(RpcError::Config(format!(
            "[odoo_platform] url {url:?}: must be an https:// address (the token and the contract travel in it)"
        )));
    }
    Ok(())
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Rpc {
    pub fn new(url: &str, ca_file: Option<&Path>) -> Result<Rpc, RpcError> {
        check_url(url)?;
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::Specific(Arc::new(roots(ca_file)?)))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .https_only(true)
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        Ok(Rpc {
            agent,
            base: url.trim_end_matches('/').to_string(),
        })
    }

    /// The same client, pinned to the node that holds the request.
    pub fn pinned(&self, host_uri: &str) -> Rpc {
        Rpc {
            agent: self.agent.clone(),
            base: crate::odoo::platform::api_base(host_uri),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn unreachable(&self, e: ureq::Error) -> RpcError {
        let detail = match &e {
            ureq::Error::Timeout(_) => "no answer within 60 s".to_string(),
            ureq::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        };
        RpcError::Unreachable {
            url: self.base.clone(),
            detail,
        }
    }

    /// POSTs `params` to `endpoint` and returns the `result`, read as the
    /// script reads it: a `result.error` or a JSON-RPC error is a refusal.
    pub async fn call<T: DeserializeOwned + Send + 'static>(
        &self,
        endpoint: &'static str,
        params: Value,
    ) -> Result<T, RpcError> {
        let this = self.clone();
        let value = tokio::task::spawn_blocking(move || this.call_blocking(endpoint, params))
            .await
            .map_err(|e| RpcError::Bad {
                endpoint: endpoint.into(),
                detail: e.to_string(),
            })??;
        serde_json::from_value(value).map_err(|e| RpcError::Bad {
            endpoint: endpoint.into(),
            detail: format!("an answer without the expected fields ({e})"),
        })
    }

    fn call_blocking(&self, endpoint: &str, params: Value) -> Result<Value, RpcError> {
        let body =
            json!({"jsonrpc": "2.0", "method": "not_used", "params": params, "id": "not_used"});
        let url = format!("{}/{endpoint}", self.base);
        let mut resp = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .map_err(|e| self.unreachable(e))?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| self.unreachable(e))?;
        let bad = |detail: String| RpcError::Bad {
            endpoint: endpoint.into(),
            detail,
        };
        let parsed: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(_) if !status.is_success() => {
                return Err(bad(format!("HTTP {}", status.as_u16())));
            }
            Err(_) if text.trim().is_empty() => return Ok(Value::Array(Vec::new())),
            Err(e) => return Err(bad(format!("a body that is not JSON ({e})"))),
        };
        if let Some(result) = parsed.get("result") {
            if let Some(err) = result.get("error") {
                return Err(RpcError::Refused(match err {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }));
            }
            return Ok(result.clone());
        }
        let message = parsed
            .pointer("/error/data/message")
            .or_else(|| parsed.pointer("/error/message"))
            .and_then(Value::as_str)
            .unwrap_or("a JSON-RPC answer without result");
        Err(RpcError::Refused(message.to_string()))
    }

    /// The platform's log of the request from byte `from` on (GET with a
    /// Range header). Bytes, not characters: the offset counts bytes.
    pub async fn logs(&self, token: &str, from: u64) -> Result<Vec<u8>, RpcError> {
        let this = self.clone();
        let url = format!(
            "{}/{}?token={}",
            self.base,
            crate::odoo::platform::endpoint::LOGS,
            urlencode(token)
        );
        tokio::task::spawn_blocking(move || {
            let mut resp = this
                .agent
                .get(&url)
                .header("Range", &format!("bytes={from}-"))
                .call()
                .map_err(|e| this.unreachable(e))?;
            let status = resp.status().as_u16();
            // Nothing past `from` yet.
            if status == 416 {
                return Ok(Vec::new());
            }
            if !(200..300).contains(&status) {
                return Err(RpcError::Bad {
                    endpoint: "upgrade/request/logs".into(),
                    detail: format!("HTTP {status}"),
                });
            }
            let body = resp
                .body_mut()
                .with_config()
                .limit(MAX_BODY)
                .read_to_vec()
                .map_err(|e| this.unreachable(e))?;
            // A server that ignores Range sends everything: keep the new part.
            Ok(if status == 200 && from > 0 {
                body.get(from as usize..)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default()
            } else {
                body
            })
        })
        .await
        .map_err(|e| RpcError::Bad {
            endpoint: "upgrade/request/logs".into(),
            detail: e.to_string(),
        })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_addresses_are_accepted() {
        assert!(check_url("https://upgrade.odoo.com").is_ok());
        let e = check_url("http://upgrade.odoo.com")
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be an https:// address"), "{e}");
        assert!(check_url("https://").is_err());
    }

    #[test]
    fn a_token_is_encoded_for_the_query() {
        assert_eq!(urlencode("a b/c+d"), "a%20b%2Fc%2Bd");
        assert_eq!(urlencode("AZaz09-._~"), "AZaz09-._~");
    }

    #[test]
    fn a_ca_file_without_certificates_is_one_clear_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate\n").unwrap();
        let e = Rpc::new("https://127.0.0.1:1", Some(&p))
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds no certificate"), "{e}");
    }
}
