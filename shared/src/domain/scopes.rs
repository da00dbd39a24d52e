//! Scopes an API key may hold. `Scopes` is a non-empty set with one canonical order, so the same
//! permissions always serialise the same way (in responses and in the authorizer context).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    SendMessages,
    ReadMessages,
}

impl Scope {
    pub const ALL: [Scope; 2] = [Scope::SendMessages, Scope::ReadMessages];

    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::SendMessages => "send_messages",
            Scope::ReadMessages => "read_messages",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopesError {
    Empty,
    Unknown(String),
}

impl Scopes {
    pub fn all() -> Self {
        Self(Scope::ALL.to_vec())
    }

    /// From a request: omitted means all; duplicates collapse; empty or unknown is an error.
    pub fn from_request(requested: Option<&[String]>) -> Result<Self, ScopesError> {
        match requested {
            None => Ok(Self::all()),
            Some(names) => Self::from_names(names.iter().map(String::as_str)),
        }
    }

    fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, ScopesError> {
        let mut scopes = Vec::new();
        for name in names {
            let scope = Scope::parse(name).ok_or_else(|| ScopesError::Unknown(name.to_owned()))?;
            scopes.push(scope);
        }
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            return Err(ScopesError::Empty);
        }
        Ok(Self(scopes))
    }

    /// From storage or the authorizer context: space separated.
    pub fn from_stored(joined: &str) -> Result<Self, ScopesError> {
        Self::from_names(joined.split_whitespace())
    }

    pub fn to_stored(&self) -> String {
        self.names().collect::<Vec<_>>().join(" ")
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(Scope::as_str)
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn omitted_scopes_mean_all_scopes() {
        assert_eq!(Scopes::from_request(None).unwrap(), Scopes::all());
    }

    #[test]
    fn duplicate_scopes_collapse_into_canonical_order() {
        let scopes = Scopes::from_request(Some(&names(&[
            "read_messages",
            "send_messages",
            "read_messages",
        ])))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&scopes).unwrap(),
            serde_json::json!(["send_messages", "read_messages"])
        );
    }

    #[test]
    fn empty_or_unknown_scopes_are_errors() {
        assert_eq!(Scopes::from_request(Some(&[])), Err(ScopesError::Empty));
        assert_eq!(
            Scopes::from_request(Some(&names(&["admin"]))),
            Err(ScopesError::Unknown("admin".into()))
        );
        assert!(Scopes::from_request(Some(&names(&["SEND_MESSAGES"]))).is_err());
    }

    #[test]
    fn stored_form_round_trips() {
        let scopes = Scopes::from_request(Some(&names(&["read_messages"]))).unwrap();
        assert_eq!(Scopes::from_stored(&scopes.to_stored()).unwrap(), scopes);
        assert!(!scopes.contains(Scope::SendMessages));
    }
}
