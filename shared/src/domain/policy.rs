//! A key's own policy: its rate limit, the addresses it may be used from (`IpBlock`), the
//! owner's metadata and its monthly send limit. Each setting is parsed from its JSON value here,
//! and every error names the field (`allowed_ips[2]: ...`). Unset means: the deployment's
//! default limit, any address, no metadata, no monthly limit.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::Value;

use crate::domain::invalid::InvalidField;

pub const MAX_ALLOWED_IPS: usize = 20;
pub const MAX_METADATA_ENTRIES: usize = 20;
pub const MAX_METADATA_KEY_CHARS: usize = 40;
pub const MAX_METADATA_VALUE_CHARS: usize = 500;
/// The whole metadata object as JSON.
pub const MAX_METADATA_BYTES: usize = 2048;
pub const MAX_MONTHLY_SEND_LIMIT: u64 = 10_000_000;

/// An address block: an address and a prefix length, host bits zero (`203.0.113.0/24`). A
/// single address is its own block (`/32`, `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpBlock {
    network: IpAddr,
    prefix: u8,
}

impl IpBlock {
    /// `203.0.113.7`, `203.0.113.0/24`, `2001:db8::/32`; host bits are cleared, so
    /// `203.0.113.7/24` is `203.0.113.0/24`.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| "must be an IPv4 or IPv6 address or CIDR block")?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or(if bits == 32 {
                    "an IPv4 prefix length is 0 to 32"
                } else {
                    "an IPv6 prefix length is 0 to 128"
                })?,
            Some(_) => return Err("must be an IPv4 or IPv6 address or CIDR block"),
        };
        // An IPv4-mapped block (`::ffff:10.0.0.0/104`) is its IPv4 block: one form for one
        // set of addresses, and the one `contains` compares against.
        if let IpAddr::V6(v6) = address {
            if let (Some(v4), true) = (v6.to_ipv4_mapped(), prefix >= 96) {
                return Ok(Self::new(IpAddr::V4(v4), prefix - 96));
            }
        }
        Ok(Self::new(address, prefix))
    }

    fn new(address: IpAddr, prefix: u8) -> Self {
        let network = match address {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask32(prefix))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask128(prefix))),
        };
        Self { network, prefix }
    }

    /// Whether `ip` is in the block (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                u32::from(ip) & mask32(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                u128::from(ip) & mask128(self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }

    /// 17 bytes: the prefix length, then the address (IPv4 as IPv4-mapped IPv6). The lookup
    /// item carries blocks in this form, so 20 IPv6 blocks stay 340 bytes, not 860 of text.
    pub fn to_bytes(self) -> [u8; 17] {
        let mut bytes = [0; 17];
        bytes[0] = self.prefix;
        let v6 = match self.network {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        bytes[1..].copy_from_slice(&v6.octets());
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&prefix, address) = bytes.split_first()?;
        let octets: [u8; 16] = address.try_into().ok()?;
        let v6 = Ipv6Addr::from(octets);
        let address = v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4);
        let bits = if address.is_ipv4() { 32 } else { 128 };
        (prefix <= bits).then(|| Self::new(address, prefix))
    }
}

impl std::fmt::Display for IpBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// Whether `source` may use a key restricted to `blocks` (`None`: any address). A request
/// with no known address is refused by a restricted key.
pub fn address_allowed(blocks: Option<&[IpBlock]>, source: Option<&str>) -> bool {
    match blocks {
        None => true,
        Some(blocks) => source
            .and_then(|s| s.parse::<IpAddr>().ok())
            .is_some_and(|ip| blocks.iter().any(|block| block.contains(ip))),
    }
}

/// The owner's labels on a key: shown in every view, never read on the request path.
pub type Metadata = BTreeMap<String, String>;

/// A key's policy as stored and shown. `rate_limit_per_minute: None` is the deployment's
/// default (`RATE_LIMIT_PER_MINUTE`) at the time of each request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    pub rate_limit_per_minute: Option<u64>,
    pub allowed_ips: Option<Vec<IpBlock>>,
    pub metadata: Option<Metadata>,
    pub monthly_send_limit: Option<u64>,
}

impl KeyPolicy {
    /// The per-minute limit in force, given the deployment's default.
    pub fn rate_limit(&self, default: u64) -> u64 {
        self.rate_limit_per_minute.unwrap_or(default)
    }
}

/// `rate_limit_per_minute`: an integer from 1 to `max` (the workspace's limit).
pub fn parse_rate_limit(value: &Value, max: u64) -> Result<u64, InvalidField> {
    integer_in(value, "rate_limit_per_minute", 1, max)
}

/// `monthly_send_limit`: an integer from 1 to 10,000,000.
pub fn parse_monthly_send_limit(value: &Value) -> Result<u64, InvalidField> {
    integer_in(value, "monthly_send_limit", 1, MAX_MONTHLY_SEND_LIMIT)
}

fn integer_in(value: &Value, field: &str, min: u64, max: u64) -> Result<u64, InvalidField> {
    let problem = format!("must be an integer from {min} to {max}");
    value
        .as_u64()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| InvalidField::new(field, &problem))
}

/// `allowed_ips`: 1 to 20 addresses or blocks, normalised and without duplicates, in order.
pub fn parse_allowed_ips(value: &Value) -> Result<Vec<IpBlock>, InvalidField> {
    let field = "allowed_ips";
    let items = value
        .as_array()
        .ok_or_else(|| InvalidField::new(field, "must be an array of addresses or CIDR blocks"))?;
    if items.is_empty() || items.len() > MAX_ALLOWED_IPS {
        return Err(InvalidField::new(
            field,
            "must hold 1 to 20 entries (null allows any address)",
        ));
    }
    let mut blocks: Vec<IpBlock> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let text = item
            .as_str()
            .ok_or_else(|| InvalidField::new(&at, "must be a string"))?;
        let block =
            IpBlock::parse(text.trim()).map_err(|problem| InvalidField::new(&at, problem))?;
        if !blocks.contains(&block) {
            blocks.push(block);
        }
    }
    Ok(blocks)
}

/// `metadata`: at most 20 entries; keys of 1-40 characters from `[A-Za-z0-9_.-]`, string
/// values of at most 500 characters, the whole at most 2 KB as JSON.
pub fn parse_metadata(value: &Value) -> Result<Metadata, InvalidField> {
    let field = "metadata";
    let object = value
        .as_object()
        .ok_or_else(|| InvalidField::new(field, "must be a JSON object of strings"))?;
    if object.len() > MAX_METADATA_ENTRIES {
        return Err(InvalidField::new(field, "must have at most 20 entries"));
    }
    let mut metadata = Metadata::new();
    for (key, value) in object {
        let key_ok = (1..=MAX_METADATA_KEY_CHARS).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !key_ok {
            return Err(InvalidField::new(
                field,
                "keys must be 1-40 characters of A-Z, a-z, 0-9, _, . and -",
            ));
        }
        let at = format!("{field}.{key}");
        let text = value
            .as_str()
            .ok_or_else(|| InvalidField::new(&at, "must be a string"))?;
        if text.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(InvalidField::new(&at, "must be at most 500 characters"));
        }
        metadata.insert(key.clone(), text.to_owned());
    }
    if serde_json::to_string(&metadata).map_or(usize::MAX, |json| json.len()) > MAX_METADATA_BYTES {
        return Err(InvalidField::new(
            field,
            "must be at most 2048 bytes as JSON",
        ));
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn blocks_are_normalised_and_match_inside_only() {
        let block = IpBlock::parse("203.0.113.77/24").unwrap();
        assert_eq!(block.to_string(), "203.0.113.0/24");
        assert!(block.contains("203.0.113.200".parse().unwrap()));
        assert!(!block.contains("203.0.114.1".parse().unwrap()));
        assert!(block.contains("::ffff:203.0.113.9".parse().unwrap()));
        let v6 = IpBlock::parse("2001:DB8:0:0::1/32").unwrap();
        assert_eq!(v6.to_string(), "2001:db8::/32");
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!v6.contains("2001:db9::1".parse().unwrap()));
        assert!(!v6.contains("203.0.113.1".parse().unwrap()));
        assert_eq!(
            IpBlock::parse("10.1.2.3").unwrap().to_string(),
            "10.1.2.3/32"
        );
        let mapped = IpBlock::parse("::ffff:10.0.0.1").unwrap();
        assert_eq!(
            mapped.to_string(),
            "10.0.0.1/32",
            "an IPv4-mapped address is IPv4"
        );
        assert_eq!(IpBlock::from_bytes(&mapped.to_bytes()), Some(mapped));
        assert_eq!(
            IpBlock::parse("::ffff:0:0/96").unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(
            IpBlock::parse("0.0.0.0/0").unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert!(IpBlock::parse("0.0.0.0/0")
            .unwrap()
            .contains("198.51.100.1".parse().unwrap()));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "x/8",
        ] {
            assert!(IpBlock::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_block_survives_its_compact_form() {
        for text in [
            "203.0.113.0/24",
            "10.1.2.3/32",
            "2001:db8::/32",
            "::/0",
            "0.0.0.0/0",
        ] {
            let block = IpBlock::parse(text).unwrap();
            assert_eq!(
                IpBlock::from_bytes(&block.to_bytes()),
                Some(block),
                "{text}"
            );
        }
        assert_eq!(IpBlock::from_bytes(&[200; 17]), None);
        assert_eq!(IpBlock::from_bytes(&[1, 2]), None);
    }

    #[test]
    fn allowed_ips_errors_name_the_entry() {
        let err = parse_allowed_ips(&json!(["10.0.0.1", "10.0.0.0/8", "nope"])).unwrap_err();
        assert_eq!(err.field, "allowed_ips[2]");
        assert_eq!(
            parse_allowed_ips(&json!([])).unwrap_err().field,
            "allowed_ips"
        );
        let many: Vec<String> = (0..21).map(|i| format!("10.0.0.{i}")).collect();
        assert!(parse_allowed_ips(&json!(many)).is_err());
        assert_eq!(
            parse_allowed_ips(&json!([1])).unwrap_err().field,
            "allowed_ips[0]"
        );
        let blocks = parse_allowed_ips(&json!(["10.0.0.1/8", "10.9.9.9/8"])).unwrap();
        assert_eq!(
            blocks.len(),
            1,
            "duplicates after normalising are one entry"
        );
    }

    #[test]
    fn metadata_rules_hold() {
        let ok = parse_metadata(&json!({"team": "growth", "env.name": "staging"})).unwrap();
        assert_eq!(ok["team"], "growth");
        assert!(parse_metadata(&json!({"": "x"})).is_err());
        assert!(parse_metadata(&json!({"has space": "x"})).is_err());
        assert!(parse_metadata(&json!({"k".repeat(41): "x"})).is_err());
        assert_eq!(
            parse_metadata(&json!({"n": 1})).unwrap_err().field,
            "metadata.n"
        );
        assert!(parse_metadata(&json!({"v": "é".repeat(500)})).is_ok());
        assert!(parse_metadata(&json!({"v": "x".repeat(501)})).is_err());
        let big: serde_json::Map<String, Value> = (0..5)
            .map(|i| (format!("k{i}"), json!("x".repeat(450))))
            .collect();
        assert!(parse_metadata(&Value::Object(big)).is_err(), "over 2 KB");
        let many: serde_json::Map<String, Value> =
            (0..21).map(|i| (format!("k{i}"), json!("x"))).collect();
        assert!(parse_metadata(&Value::Object(many)).is_err());
        assert!(parse_metadata(&json!(["x"])).is_err());
    }

    #[test]
    fn limits_are_integers_in_range() {
        assert_eq!(parse_rate_limit(&json!(5), 1000), Ok(5));
        for bad in [json!(0), json!(1001), json!(2.5), json!("5"), json!(-1)] {
            assert!(parse_rate_limit(&bad, 1000).is_err(), "{bad}");
        }
        assert_eq!(parse_monthly_send_limit(&json!(10_000_000)), Ok(10_000_000));
        assert!(parse_monthly_send_limit(&json!(10_000_001)).is_err());
    }

    #[test]
    fn a_restricted_key_needs_a_known_address_inside_a_block() {
        let blocks = parse_allowed_ips(&json!(["203.0.113.0/24", "2001:db8::/32"])).unwrap();
        assert!(address_allowed(None, None));
        assert!(address_allowed(Some(&blocks), Some("203.0.113.5")));
        assert!(address_allowed(Some(&blocks), Some("2001:db8::5")));
        assert!(!address_allowed(Some(&blocks), Some("198.51.100.5")));
        assert!(!address_allowed(Some(&blocks), None));
    }
}
