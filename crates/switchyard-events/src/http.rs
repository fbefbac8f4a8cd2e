//! The `http` trigger: one request per firing, to addresses the platform allows.
//!
//! A sensor's HTTP trigger is a request the platform makes on behalf of whoever can apply a
//! Sensor, so it must not become a way into the machine's own network: requests to loopback,
//! private, link-local (cloud metadata at 169.254.169.254 among them), unique-local,
//! unspecified, multicast and broadcast addresses are refused unless an operator allowlisted
//! them (`up --http-trigger-allow CIDR`). The check applies to the addresses the name
//! resolves to, and the request goes to exactly those addresses (no second lookup that could
//! answer differently). Redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use switchyard_sensor::HttpRequest;
use switchyard_store::Store;
use switchyard_store::secrets::secret_value;

/// An address range: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `::1/128`, or a bare address (the whole address).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `ip` is an address of this machine's or a private network, or not a unicast
/// address at all.
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.octets()[0] == 0
                // Shared address space (carrier-grade NAT), 100.64.0.0/10.
                || (v4.octets()[0] == 100 && v4.octets()[1] & 0xc0 == 64)
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // Unique local fc00::/7 and link-local fe80::/10.
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Which addresses HTTP triggers may reach.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// Internal ranges allowed anyway.
    pub allow: Vec<Cidr>,
}

impl AddressPolicy {
    pub fn permits(&self, ip: IpAddr) -> bool {
        !is_internal(ip) || self.allow.iter().any(|c| c.contains(ip))
    }

    fn refusal(ip: IpAddr) -> String {
        format!(
            "{ip} is a loopback, private, link-local or otherwise internal address; \
             an operator can allow it with `switchyard up --http-trigger-allow {ip}/32`"
        )
    }
}

/// Resolves names with the system resolver and keeps only permitted addresses.
struct CheckedResolver {
    policy: Arc<AddressPolicy>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| policy.permits(a.ip()))
                .collect();
            if allowed.is_empty() {
                let reason = match found.first() {
                    Some(a) => AddressPolicy::refusal(a.ip()),
                    None => format!("{host} has no address"),
                };
                return Err(reason.into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// Why a request failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFailure {
    pub message: String,
    pub retryable: bool,
}

impl HttpFailure {
    fn permanent(message: impl Into<String>) -> Self {
        HttpFailure {
            message: message.into(),
            retryable: false,
        }
    }
}

/// Sends the HTTP triggers' requests.
pub struct HttpSender {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
}

impl HttpSender {
    pub fn new(policy: AddressPolicy) -> Result<Self, String> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(CheckedResolver {
                policy: policy.clone(),
            }))
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot create the HTTP trigger client: {e}"))?;
        Ok(HttpSender { client, policy })
    }

    /// Sends `request` (its Secret-backed headers and basic auth read from `store` in
    /// `namespace`) and returns the response status, if it counts as success.
    pub async fn send(
        &self,
        store: &dyn Store,
        namespace: &str,
        request: &HttpRequest,
    ) -> Result<u16, HttpFailure> {
        let url = reqwest::Url::parse(&request.url)
            .map_err(|e| HttpFailure::permanent(format!("url `{}`: {e}", request.url)))?;
        match url.scheme() {
            "http" => {}
            "https" => {
                return Err(HttpFailure::permanent(
                    "https URLs are not supported by HTTP triggers yet (this build has no TLS \
                     client); use http, or a webhook relay",
                ));
            }
            other => {
                return Err(HttpFailure::permanent(format!(
                    "url scheme `{other}` is not http"
                )));
            }
        }
        // An address in the URL is not resolved, so it is checked here.
        if let Some(host) = url.host_str() {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if let Ok(ip) = bare.parse::<IpAddr>()
                && !self.policy.permits(ip)
            {
                return Err(HttpFailure::permanent(AddressPolicy::refusal(ip)));
            }
        }
        if request.tls.is_some() {
            return Err(HttpFailure::permanent(
                "client TLS settings are not supported by HTTP triggers yet",
            ));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
            HttpFailure::permanent(format!("method `{}` is not an HTTP method", request.method))
        })?;
        let mut builder = self
            .client
            .request(method, url)
            .timeout(request.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.payload.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(host) = &request.host {
            builder = builder.header(reqwest::header::HOST, host);
        }
        for header in &request.secure_headers {
            let (Some(name), Some(selector)) = (
                header.name.as_deref(),
                header
                    .value_from
                    .as_ref()
                    .and_then(|v| v.secret_key_ref.as_ref()),
            ) else {
                return Err(HttpFailure::permanent(
                    "a secure header needs a name and a secretKeyRef",
                ));
            };
            let value = secret_value(store, namespace, &selector.name, &selector.key)
                .await
                .map_err(|e| HttpFailure::permanent(format!("secure header `{name}`: {e}")))?;
            builder = builder.header(name, value);
        }
        if let Some(auth) = &request.basic_auth {
            let read = |selector: &Option<switchyard_model::core::SecretKeySelector>| {
                let selector = selector.clone();
                async move {
                    match selector {
                        Some(s) => secret_value(store, namespace, &s.name, &s.key)
                            .await
                            .map(Some),
                        None => Ok(None),
                    }
                }
            };
            let username = read(&auth.username)
                .await
                .map_err(|e| HttpFailure::permanent(format!("basicAuth username: {e}")))?
                .unwrap_or_default();
            let password = read(&auth.password)
                .await
                .map_err(|e| HttpFailure::permanent(format!("basicAuth password: {e}")))?;
            let token = base64::engine::general_purpose::STANDARD
                .encode(format!("{username}:{}", password.unwrap_or_default()));
            builder = builder.header(reqwest::header::AUTHORIZATION, format!("Basic {token}"));
        }
        let response = builder.send().await.map_err(|e| HttpFailure {
            // The request may not have left, or the server may be down: worth a retry.
            message: describe(&e),
            retryable: true,
        })?;
        let status = response.status().as_u16();
        let allowed = match &request.allowed_statuses {
            Some(list) => list.iter().any(|s| i64::from(*s) == i64::from(status)),
            None => true,
        };
        if allowed {
            Ok(status)
        } else {
            Err(HttpFailure {
                message: format!(
                    "the server answered {status}, which the trigger's policy.status.allow does not list"
                ),
                retryable: true,
            })
        }
    }
}

/// A reqwest error with its causes (the resolver's refusal is a cause).
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "100.128.0.1"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn cidrs_parse_and_match() {
        let lan = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(lan.contains("10.200.1.1".parse().unwrap()));
        assert!(!lan.contains("11.0.0.1".parse().unwrap()));
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert!(one.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        assert!(
            Cidr::parse("::/0")
                .unwrap()
                .contains("fe80::1".parse().unwrap())
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nope").is_err());
        let policy = AddressPolicy { allow: vec![one] };
        assert!(policy.permits("127.0.0.1".parse().unwrap()));
        assert!(!policy.permits("169.254.169.254".parse().unwrap()));
        assert!(policy.permits("8.8.8.8".parse().unwrap()));
    }
}
