//! Which `Host` and `Origin` the daemon answers for: the browser threat of
//! DESIGN.md §5. Pure policy on header values; the HTTP edge (`http.rs`)
//! applies it and chooses the status.
//!
//! A daemon on loopback is reachable by every web page its operator opens.
//! Two attacks, two checks:
//! - **DNS rebinding**: a page at `evil.example` re-points its name at
//!   127.0.0.1 and then reads and writes the daemon as its own origin; the
//!   browser sends `Host: evil.example`. So a request's host must be one the
//!   daemon answers for: an IP literal (a rebinding needs a *name*; this is
//!   also how Vite's and webpack-dev-server's host checks decide), `localhost`
//!   and `*.localhost` (RFC 6761: always loopback, browsers resolve them
//!   themselves), the `--listen` name, and `--allowed-host` names.
//! - **Cross-site writes**: a page anywhere may send a "simple" POST to
//!   `http://127.0.0.1:9095` with its own `Origin`. A write's `Origin`, when
//!   present, must be the daemon itself: a loopback address, `localhost`, or
//!   the listen address, on the listen port; or an `--allowed-host` name (a
//!   reverse proxy in front publishes it, on its own port). Here an IP literal
//!   is not enough: a page served from `http://203.0.113.9/` is foreign.
//!
//! Ports of the `Host` are not compared: a rebinding changes the name, not the
//! port, and a proxy in front may publish another port.

use std::net::{IpAddr, SocketAddr};

/// The names and address the daemon answers for.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    listen: SocketAddr,
    /// The `--listen` host when it is a name (`localhost:9095`), lowercase.
    listen_name: Option<String>,
    /// `--allowed-host` values, lowercase; a leading `.` allows the domain and
    /// every name under it.
    names: Vec<String>,
}

/// What a `Host` (or an absolute-form target's authority) says.
#[derive(Debug, PartialEq, Eq)]
pub enum HostCheck {
    Allowed,
    /// A valid host the daemon does not answer for.
    Foreign,
    /// Not `host[:port]` (RFC 9110 §7.2): refused 400.
    Malformed,
}

impl AllowedHosts {
    /// `listen` is the bound address; `listen_host` the host part of
    /// `--listen` as given (a name or an address).
    pub fn new(listen: SocketAddr, listen_host: &str, names: &[String]) -> AllowedHosts {
        let listen_host = listen_host.trim_start_matches('[').trim_end_matches(']');
        let listen_name = (listen_host.parse::<IpAddr>().is_err() && !listen_host.is_empty())
            .then(|| listen_host.to_ascii_lowercase());
        AllowedHosts {
            listen,
            listen_name,
            names: names
                .iter()
                .map(|n| n.trim().to_ascii_lowercase())
                .filter(|n| !n.is_empty())
                .collect(),
        }
    }

    /// Checks a `Host` field value (`name`, `name:port`, `1.2.3.4:80`, `[::1]:80`).
    pub fn host(&self, value: &str) -> HostCheck {
        let Some((host, _port)) = split_authority(value) else {
            return HostCheck::Malformed;
        };
        match host {
            Host::Ip(_) => HostCheck::Allowed,
            Host::Name(name) if self.names_allow(&name) || is_localhost(&name) => {
                HostCheck::Allowed
            }
            Host::Name(_) => HostCheck::Foreign,
        }
    }

    /// Whether a write may come from this `Origin` (RFC 6454 serialization:
    /// `scheme://host[:port]`). `null` and anything malformed are foreign.
    pub fn origin(&self, value: &str) -> bool {
        let value = value.trim();
        let Some((scheme, authority)) = value.split_once("://") else {
            return false;
        };
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "http" => 80,
            "https" => 443,
            _ => return false,
        };
        let Some((host, port)) = split_authority(authority) else {
            return false;
        };
        let port = port.unwrap_or(default_port);
        match host {
            Host::Name(name) if self.names_allow(&name) => true,
            Host::Name(name) => {
                let ours = is_localhost(&name) || self.listen_name.as_deref() == Some(&*name);
                ours && port == self.listen.port()
            }
            Host::Ip(ip) => {
                let ours = ip.is_loopback() || ip == self.listen.ip();
                ours && port == self.listen.port()
            }
        }
    }

    fn names_allow(&self, name: &str) -> bool {
        self.listen_name.as_deref() == Some(name)
            || self
                .names
                .iter()
                .any(|allowed| match allowed.strip_prefix('.') {
                    Some(domain) => {
                        name == domain
                            || name
                                .strip_suffix(domain)
                                .is_some_and(|sub| sub.ends_with('.'))
                    }
                    None => name == allowed,
                })
    }
}

fn is_localhost(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

enum Host {
    Ip(IpAddr),
    /// Lowercase, without a trailing dot.
    Name(String),
}

/// `host[:port]` of RFC 3986 §3.2.2 (IP-literal in brackets, IPv4, or a
/// reg-name of letters, digits, `-`, `.`, `_`); `None` when malformed.
fn split_authority(value: &str) -> Option<(Host, Option<u16>)> {
    let value = value.trim_matches([' ', '\t']);
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (literal, after) = rest.split_once(']')?;
        let ip = literal.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = match value.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        };
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return None;
        }
        let host = match host.parse::<std::net::Ipv4Addr>() {
            Ok(ip) => Host::Ip(IpAddr::V4(ip)),
            Err(_) => Host::Name(host.to_ascii_lowercase()),
        };
        (host, port)
    };
    let port = match port {
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    Some((host, port))
}

/// Whether a `Content-Type` is JSON (`application/json`, parameters allowed):
/// what every write must declare. A browser's cross-site "simple" request can
/// only send `text/plain`, `multipart/form-data` or
/// `application/x-www-form-urlencoded` (Fetch standard, CORS-safelisted
/// request headers); anything else needs a preflight that this daemon never
/// answers.
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(listen: &str, host: &str, names: &[&str]) -> AllowedHosts {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        AllowedHosts::new(listen.parse().unwrap(), host, &names)
    }

    #[test]
    fn hosts_allowed_foreign_and_malformed() {
        let h = hosts(
            "127.0.0.1:9095",
            "127.0.0.1",
            &["resgate.example.com", ".ops.example"],
        );
        for ok in [
            "127.0.0.1:9095",
            "127.0.0.1",
            "localhost",
            "LOCALHOST:9095",
            "api.localhost:1",
            "[::1]:9095",
            "[::1]",
            "10.1.2.3:80",
            "resgate.example.com",
            "Resgate.Example.Com.:443",
            "ops.example",
            "a.b.ops.example",
        ] {
            assert_eq!(h.host(ok), HostCheck::Allowed, "{ok}");
        }
        for foreign in [
            "evil.example",
            "localhost.evil.example",
            "xops.example",
            "example.com",
        ] {
            assert_eq!(h.host(foreign), HostCheck::Foreign, "{foreign}");
        }
        for bad in [
            "",
            ":9095",
            "a b",
            "a:b",
            "a:1:2",
            "[::1",
            "[zz]",
            "[::1]x",
            "a/b",
            "a@b",
            "127.0.0.1:99999",
            "é.example",
        ] {
            assert_eq!(h.host(bad), HostCheck::Malformed, "{bad:?}");
        }
        let named = hosts("127.0.0.1:9095", "resgate.internal", &[]);
        assert_eq!(named.host("resgate.internal:9095"), HostCheck::Allowed);
    }

    #[test]
    fn origins_must_be_the_daemon_itself() {
        let h = hosts("127.0.0.1:9095", "127.0.0.1", &["resgate.example.com"]);
        for ok in [
            "http://127.0.0.1:9095",
            "http://localhost:9095",
            "http://[::1]:9095",
            "https://resgate.example.com",
            "http://resgate.example.com:8080",
        ] {
            assert!(h.origin(ok), "{ok}");
        }
        for foreign in [
            "null",
            "",
            "http://evil.example",
            "http://127.0.0.1:3000",
            "http://localhost",
            "http://203.0.113.9:9095",
            "file://",
            "chrome-extension://abc",
            "http://127.0.0.1:9095@evil.example",
        ] {
            assert!(!h.origin(foreign), "{foreign:?}");
        }
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        for not in [
            None,
            Some("text/plain"),
            Some("application/jsonx"),
            Some(""),
        ] {
            assert!(!is_json(not), "{not:?}");
        }
    }
}
