//! Where a webhook may be sent: the URL rules and which addresses are public. Deployed, only
//! `https` to hosts whose every address is public (no loopback, private, link-local, metadata,
//! unique-local, multicast, reserved or unspecified address, IPv4 or IPv6, nor one of those
//! embedded in an IPv6 address). Under `make dev` and `make test` only loopback, decided by
//! configuration (`UrlPolicy`), never by the request. The DNS lookup itself is the services'.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::domain::webhook::MAX_URL_CHARS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlPolicy {
    /// Deployed: `https` to public addresses only.
    Public,
    /// Local development and tests: `http`/`https` to 127.0.0.1, [::1] or localhost only.
    Loopback,
}

impl UrlPolicy {
    /// `WEBHOOK_URL_POLICY`: unset or `public` is `Public`, so a deployment that forgets it
    /// stays safe.
    pub fn parse(raw: Option<&str>) -> Option<Self> {
        match raw.map(str::trim) {
            None | Some("") | Some("public") => Some(UrlPolicy::Public),
            Some("loopback") => Some(UrlPolicy::Loopback),
            Some(_) => None,
        }
    }
}

/// An endpoint URL that passed the rules that need no DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    pub url: Url,
    pub host: TargetHost,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHost {
    /// A name to resolve (deployed).
    Name(String),
    /// Addresses known without DNS: an address literal, or `localhost` locally.
    Addresses(Vec<IpAddr>),
}

/// The URL rules that need no DNS, or why `raw` is refused (a message naming no field).
pub fn parse_endpoint_url(raw: &str, policy: UrlPolicy) -> Result<EndpointUrl, &'static str> {
    if raw.is_empty() || raw.chars().count() > MAX_URL_CHARS {
        return Err("must be a URL of 1 to 2048 characters");
    }
    if raw.trim() != raw || raw.chars().any(char::is_control) {
        return Err("must be a URL without spaces or control characters");
    }
    let url = Url::parse(raw).map_err(|_| "must be an absolute http(s) URL")?;
    match (url.scheme(), policy) {
        ("https", _) | ("http", UrlPolicy::Loopback) => {}
        (_, UrlPolicy::Public) => return Err("must be an https URL"),
        (_, UrlPolicy::Loopback) => return Err("must be an http or https URL"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold a user name or password");
    }
    let port = url
        .port_or_known_default()
        .ok_or("must be an absolute http(s) URL")?;
    let host = match url.host() {
        Some(Host::Ipv4(ip)) => TargetHost::Addresses(vec![IpAddr::V4(ip)]),
        Some(Host::Ipv6(ip)) => TargetHost::Addresses(vec![IpAddr::V6(ip)]),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let is_localhost = name == "localhost" || name.ends_with(".localhost");
            match policy {
                UrlPolicy::Loopback if name == "localhost" => TargetHost::Addresses(vec![
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(Ipv6Addr::LOCALHOST),
                ]),
                UrlPolicy::Loopback => {
                    return Err("must point at 127.0.0.1, [::1] or localhost (local mode)")
                }
                UrlPolicy::Public if is_localhost || !name.contains('.') => {
                    return Err("must name a public host")
                }
                UrlPolicy::Public => TargetHost::Name(name),
            }
        }
        None => return Err("must be an absolute http(s) URL"),
    };
    if let TargetHost::Addresses(addresses) = &host {
        allowed(policy, addresses)?;
    }
    Ok(EndpointUrl { url, host, port })
}

/// Whether every address a host resolved to may be sent to under `policy`.
pub fn allowed(policy: UrlPolicy, addresses: &[IpAddr]) -> Result<(), &'static str> {
    if addresses.is_empty() {
        return Err("names a host that does not resolve");
    }
    let ok = match policy {
        UrlPolicy::Public => addresses.iter().all(|ip| is_public(*ip)),
        UrlPolicy::Loopback => addresses.iter().all(|ip| ip.to_canonical().is_loopback()),
    };
    match (ok, policy) {
        (true, _) => Ok(()),
        (false, UrlPolicy::Public) => Err("must resolve to public addresses only"),
        (false, UrlPolicy::Loopback) => {
            Err("must point at 127.0.0.1, [::1] or localhost (local mode)")
        }
    }
}

/// A globally routable unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", 0.0.0.0 included
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 169 && b == 254) // link-local, the metadata address 169.254.169.254 included
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded_v4 = |ip: Ipv6Addr| {
        let o = ip.octets();
        Ipv4Addr::new(o[12], o[13], o[14], o[15])
    };
    // An IPv4 address inside an IPv6 one reaches that IPv4 address: judge it as one.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if segments[..6] == [0, 0, 0, 0, 0, 0] {
        return false; // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(ip)); // NAT64
    }
    if segments[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (segments[1] >> 8) as u8,
            segments[1] as u8,
            (segments[2] >> 8) as u8,
            segments[2] as u8,
        );
        return is_public_v4(v4); // 6to4
    }
    let global_unicast = (segments[0] & 0xe000) == 0x2000; // 2000::/3
    global_unicast
        && !(segments[0] == 0x2001 && segments[1] < 0x0200) // Teredo, ORCHID, benchmarking, ...
        && !(segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        && segments[0] != 0x3fff // documentation (RFC 9637)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn private_loopback_link_local_and_special_addresses_are_not_public() {
        for raw in [
            "0.0.0.0",
            "10.1.2.3",
            "127.0.0.1",
            "100.64.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:0a00:0001::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "fec0::1",
        ] {
            assert!(!is_public(ip(raw)), "{raw} must not be public");
        }
    }

    #[test]
    fn global_unicast_addresses_are_public() {
        for raw in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert!(is_public(ip(raw)), "{raw} must be public");
        }
    }

    #[test]
    fn deployed_only_https_to_public_names_or_addresses_is_accepted() {
        let ok = parse_endpoint_url("https://hooks.example.com/yebolink?x=1", UrlPolicy::Public)
            .unwrap();
        assert_eq!(ok.host, TargetHost::Name("hooks.example.com".into()));
        assert_eq!(ok.port, 443);
        assert!(parse_endpoint_url("https://8.8.8.8:8443/h", UrlPolicy::Public).is_ok());
        for raw in [
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "https://127.0.0.1/",
            "https://localhost/",
            "https://a.localhost/",
            "https://intranet/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:10.0.0.1]/",
            "https://[fd00::1]/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com /x",
            " https://hooks.example.com/",
            "not a url",
            "",
            "/relative",
        ] {
            assert!(
                parse_endpoint_url(raw, UrlPolicy::Public).is_err(),
                "{raw:?}"
            );
        }
        assert!(parse_endpoint_url(
            &format!("https://a.com/{}", "x".repeat(2048)),
            UrlPolicy::Public
        )
        .is_err());
    }

    #[test]
    fn locally_only_loopback_is_accepted() {
        for raw in [
            "http://127.0.0.1:8081/hook",
            "https://[::1]:9/x",
            "http://localhost:3000/",
        ] {
            assert!(
                parse_endpoint_url(raw, UrlPolicy::Loopback).is_ok(),
                "{raw}"
            );
        }
        for raw in [
            "https://example.com/hook",
            "http://10.0.0.1/x",
            "http://169.254.169.254/",
            "http://[::ffff:10.0.0.1]/",
            "ftp://127.0.0.1/x",
            "http://user:pass@127.0.0.1/",
            "http://127.0.0.1.nip.io/",
        ] {
            assert!(
                parse_endpoint_url(raw, UrlPolicy::Loopback).is_err(),
                "{raw}"
            );
        }
    }

    #[test]
    fn a_name_is_allowed_only_when_every_address_it_resolves_to_is() {
        assert!(allowed(UrlPolicy::Public, &[ip("8.8.8.8")]).is_ok());
        assert!(allowed(UrlPolicy::Public, &[ip("8.8.8.8"), ip("10.0.0.1")]).is_err());
        assert!(allowed(UrlPolicy::Public, &[]).is_err());
        assert!(allowed(UrlPolicy::Loopback, &[ip("127.0.0.1"), ip("::1")]).is_ok());
        assert!(allowed(UrlPolicy::Loopback, &[ip("8.8.8.8")]).is_err());
    }

    #[test]
    fn the_policy_is_public_unless_configured_loopback() {
        assert_eq!(UrlPolicy::parse(None), Some(UrlPolicy::Public));
        assert_eq!(UrlPolicy::parse(Some("public")), Some(UrlPolicy::Public));
        assert_eq!(
            UrlPolicy::parse(Some("loopback")),
            Some(UrlPolicy::Loopback)
        );
        assert_eq!(UrlPolicy::parse(Some("anything")), None);
    }
}
