//! Requests Marquee makes to other hosts (webhooks, Slack alerts, the
//! Mastodon connector) go only to public addresses unless
//! `[webhooks] allow_private = true`.
//!
//! An admin-supplied URL must not turn the server into a probe of its own
//! network (the database port, a cloud metadata service, the router). The
//! check runs twice:
//! - when a URL is saved ([`check_url`]): a literal private address or a
//!   local name is refused at once, with a 400 naming the field;
//! - on every connection ([`PublicResolver`]): names are resolved, and
//!   private answers are dropped, so a name that later resolves to
//!   127.0.0.1 (DNS rebinding) still reaches nothing.
//!
//! What the admin sees of a failed delivery is "failed" or the HTTP status
//! of a public host, never the text of a connection error, which would say
//! what (if anything) listens at an address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is a public unicast address: not loopback, private
/// (RFC 1918, unique-local), link-local, shared (CGNAT), documentation,
/// benchmarking, multicast, broadcast or unspecified. IPv4-mapped and
/// NAT64/6to4 forms are judged by the IPv4 address they carry.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (b & 0xc0) == 64)
        // IETF protocol assignments, 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, 198.18.0.0/15.
        || (a == 198 && (b & 0xfe) == 18)
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let seg = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address.
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6] == [0, 0, 0, 0] {
        let [a, b] = seg[6].to_be_bytes();
        let [c, d] = seg[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    if seg[0] == 0x2002 {
        let [a, b] = seg[1].to_be_bytes();
        let [c, d] = seg[2].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local, fc00::/7.
        || (seg[0] & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (seg[0] & 0xffc0) == 0xfe80
        // Documentation, 2001:db8::/32.
        || (seg[0] == 0x2001 && seg[1] == 0x0db8)
        // IPv4-compatible (deprecated) ::/96.
        || seg[..6] == [0, 0, 0, 0, 0, 0])
}

/// Why a URL may not be used as a destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Not an http(s) URL with a host.
    #[error("must be an http or https URL")]
    NotHttp,
    /// A literal private address or a local name.
    #[error("must point to a public address (set [webhooks] allow_private to reach this network)")]
    Private,
}

/// Checks a destination URL when it is saved: http(s), and unless
/// `allow_private`, no literal private address and no local name
/// (`localhost`, `*.localhost`, `*.local`, `*.internal`, a bare name).
pub fn check_url(raw: &str, allow_private: bool) -> Result<(), Refused> {
    let url = reqwest::Url::parse(raw).map_err(|_| Refused::NotHttp)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refused::NotHttp);
    }
    let host = match url.host() {
        Some(h) => h,
        None => return Err(Refused::NotHttp),
    };
    if allow_private {
        return Ok(());
    }
    match host {
        url::Host::Ipv4(v4) if !is_public_v4(v4) => Err(Refused::Private),
        url::Host::Ipv6(v6) if !is_public_v6(v6) => Err(Refused::Private),
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let local = d == "localhost"
                || !d.contains('.')
                || [".localhost", ".local", ".internal", ".home.arpa", ".lan"]
                    .iter()
                    .any(|s| d.ends_with(s));
            if local {
                Err(Refused::Private)
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// A resolver that drops every non-public answer; a name with no public
/// address fails to resolve.
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                tracing::warn!(%host, "outbound request refused: the name has no public address");
                let e: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} has no public address").into();
                return Err(e);
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// A client builder for requests to other hosts: no redirects (a redirect
/// could lead anywhere), and unless `allow_private`, only public addresses.
pub fn client_builder(allow_private: bool) -> reqwest::ClientBuilder {
    let b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if allow_private {
        b
    } else {
        b.dns_resolver(Arc::new(PublicResolver))
    }
}

/// Checks a URL right before it is requested (literal addresses bypass the
/// resolver). Returns the URL's refusal, logged for the operator.
pub fn guard(url: &str, allow_private: bool) -> Result<(), Refused> {
    check_url(url, allow_private).inspect_err(|e| {
        tracing::warn!(%url, reason = %e, "outbound request refused");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "2001:db8::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip}");
        }
    }

    #[test]
    fn urls_naming_this_network_are_refused_unless_allowed() {
        for bad in [
            "http://127.0.0.1:9/hook",
            "http://[::1]/x",
            "http://localhost:8080/",
            "http://db.internal/",
            "http://printer.local/",
            "http://intranet/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://169.254.169.254/latest/meta-data",
        ] {
            assert_eq!(check_url(bad, false), Err(Refused::Private), "{bad}");
            assert_eq!(check_url(bad, true), Ok(()), "{bad}");
        }
        assert_eq!(check_url("https://hooks.example.com/x", false), Ok(()));
        assert_eq!(check_url("ftp://example.com/", true), Err(Refused::NotHttp));
        assert_eq!(check_url("not a url", true), Err(Refused::NotHttp));
    }

    #[tokio::test]
    async fn the_resolver_drops_private_answers() {
        let r = PublicResolver;
        let name: Name = "localhost".parse().unwrap();
        assert!(r.resolve(name).await.is_err());
    }
}
