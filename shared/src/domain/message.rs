//! Messages: channels, recipients, content rules, SMS segment counting, and the records storage
//! keeps (the message, and the first answer to a send with an `Idempotency-Key`).

use serde::Serialize;

use crate::domain::ids::{KeyId, MessageId, WorkspaceId};
use crate::domain::timestamp::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Whatsapp,
    Email,
}

impl Channel {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "sms" => Some(Channel::Sms),
            "whatsapp" => Some(Channel::Whatsapp),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Whatsapp => "whatsapp",
            Channel::Email => "email",
        }
    }
}

/// E.164: `+` then 8 to 15 digits, the first not zero.
pub fn is_e164(raw: &str) -> bool {
    match raw.strip_prefix('+') {
        Some(digits) => {
            (8..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
        }
        None => false,
    }
}

pub const MAX_TEXT_CHARS: usize = 1600;
pub const MAX_SUBJECT_CHARS: usize = 200;

/// Characters of the GSM 03.38 basic set (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters of the GSM 03.38 extension table (escape + septet: two each).
const GSM7_EXTENDED: &str = "\u{000C}^{}\\[~]|€";

/// How many SMS parts `text` needs: GSM-7 160 single / 153 per part, otherwise UCS-2 70 / 67
/// (counted in UTF-16 code units, as handsets do).
pub fn sms_segments(text: &str) -> u32 {
    let septets: Option<usize> = text
        .chars()
        .map(|c| {
            if GSM7_BASIC.contains(c) {
                Some(1)
            } else if GSM7_EXTENDED.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (units, single, part) = match septets {
        Some(septets) => (septets, 160, 153),
        None => (text.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    u32::try_from(segments).unwrap_or(u32::MAX)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: MessageId,
    pub workspace_id: WorkspaceId,
    pub key_id: KeyId,
    pub to: String,
    pub channel: Channel,
    pub text: String,
    pub subject: Option<String>,
    pub status: String,
    pub segments: u32,
    pub created_at: Timestamp,
}

/// The first response to a send with an `Idempotency-Key`, kept 24 hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub workspace_id: WorkspaceId,
    pub key: String,
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub expires_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_numbers_need_a_plus_and_8_to_15_digits() {
        assert!(is_e164("+26876123456"));
        assert!(is_e164("+12345678"));
        assert!(is_e164("+123456789012345"));
        for bad in [
            "26876123456",
            "+1234567",
            "+1234567890123456",
            "+2687612345a",
            "+0123456789",
            "",
            "+",
        ] {
            assert!(!is_e164(bad), "{bad:?} accepted");
        }
    }

    #[test]
    fn gsm7_text_uses_160_then_153_per_segment() {
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"a".repeat(306)), 2);
        assert_eq!(sms_segments(&"a".repeat(307)), 3);
    }

    #[test]
    fn gsm7_extension_characters_count_twice() {
        assert_eq!(sms_segments(&"€".repeat(80)), 1);
        assert_eq!(sms_segments(&"€".repeat(81)), 2);
    }

    #[test]
    fn non_gsm_text_uses_ucs2_70_then_67() {
        assert_eq!(sms_segments(&"ж".repeat(70)), 1);
        assert_eq!(sms_segments(&"ж".repeat(71)), 2);
        assert_eq!(sms_segments(&"ж".repeat(134)), 2);
        assert_eq!(sms_segments(&"ж".repeat(135)), 3);
        // An emoji is two UTF-16 code units.
        assert_eq!(sms_segments(&"😀".repeat(35)), 1);
        assert_eq!(sms_segments(&"😀".repeat(36)), 2);
    }
}
