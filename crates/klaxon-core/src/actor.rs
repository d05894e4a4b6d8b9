//! Who changes an incident, and through which channel: every command carries an [`Actor`], and every log
//! entry records both halves of it.
//!
//! The agent is a user, a service (its timers), an integration (the Events API) or Klaxon itself (the
//! escalation engine); the channel is how the change arrived (`api`, `web_trigger`, `email`, `sms`,
//! `phone`, `slack`, `timeout`, `auto`). Both are enums from the row to the wire: the stored strings are
//! PagerDuty's `*_reference` types and channel types.

use std::fmt;
use std::str::FromStr;

/// The agent of a change.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Agent {
    User(String),
    Service(String),
    Integration(String),
    /// Klaxon itself (for example the escalation engine); rendered with no agent reference.
    Klaxon,
}

impl Agent {
    /// PagerDuty's reference type (`user_reference`, ...), or `None` for Klaxon itself.
    pub fn reference_type(&self) -> Option<&'static str> {
        match self {
            Agent::User(_) => Some("user_reference"),
            Agent::Service(_) => Some("service_reference"),
            Agent::Integration(_) => Some("integration_reference"),
            Agent::Klaxon => None,
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Agent::User(id) | Agent::Service(id) | Agent::Integration(id) => Some(id),
            Agent::Klaxon => None,
        }
    }

    /// The agent's id, owned (`None` for Klaxon).
    pub fn into_id(self) -> Option<String> {
        match self {
            Agent::User(id) | Agent::Service(id) | Agent::Integration(id) => Some(id),
            Agent::Klaxon => None,
        }
    }

    /// Reads a stored reference type and id back (`None` for an unknown type or a missing id).
    pub fn from_reference(reference_type: Option<&str>, id: Option<&str>) -> Option<Agent> {
        let id = id?.to_string();
        match reference_type? {
            "user_reference" => Some(Agent::User(id)),
            "service_reference" => Some(Agent::Service(id)),
            "integration_reference" => Some(Agent::Integration(id)),
            _ => None,
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Agent::User(id) => Some(id),
            _ => None,
        }
    }
}

/// How a change arrived: the log entry's `channel.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// The REST API with an account key, or the Events API.
    Api,
    /// A person in the web app (or the REST API with their own user key).
    WebTrigger,
    Email,
    Sms,
    Phone,
    Slack,
    /// A service timer (acknowledgement timeout, auto-resolve).
    Timeout,
    /// Klaxon on its own (assignments by an escalation policy, escalations).
    Auto,
}

impl Channel {
    pub const ALL: [Channel; 8] = [
        Channel::Api,
        Channel::WebTrigger,
        Channel::Email,
        Channel::Sms,
        Channel::Phone,
        Channel::Slack,
        Channel::Timeout,
        Channel::Auto,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::WebTrigger => "web_trigger",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Phone => "phone",
            Channel::Slack => "slack",
            Channel::Timeout => "timeout",
            Channel::Auto => "auto",
        }
    }

    /// How a log entry summary names the channel ("Triggered through the API").
    pub fn phrase(self) -> &'static str {
        match self {
            Channel::Api => "the API",
            Channel::WebTrigger => "the website",
            Channel::Email => "email",
            Channel::Sms => "SMS",
            Channel::Phone => "the phone",
            Channel::Slack => "Slack",
            Channel::Timeout => "a timeout",
            Channel::Auto => "Klaxon",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown channel type {0:?}")]
pub struct UnknownChannel(pub String);

impl FromStr for Channel {
    type Err = UnknownChannel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| UnknownChannel(s.to_string()))
    }
}

/// Who acts, through what, and the name log entries show for them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub agent: Agent,
    pub channel: Channel,
    /// The agent's display name at the time (a user's name; summaries name only users).
    pub name: String,
}

impl Actor {
    pub fn new(agent: Agent, channel: Channel, name: impl Into<String>) -> Self {
        Self { agent, channel, name: name.into() }
    }

    /// A user acting through `channel`.
    pub fn user(id: impl Into<String>, name: impl Into<String>, channel: Channel) -> Self {
        Self::new(Agent::User(id.into()), channel, name)
    }

    /// A service's timer. (Only users are named in summaries, so others carry no name.)
    pub fn service_timer(service_id: impl Into<String>) -> Self {
        Self::new(Agent::Service(service_id.into()), Channel::Timeout, String::new())
    }

    /// An integration's event through the Events API.
    pub fn integration(integration_id: impl Into<String>) -> Self {
        Self::new(Agent::Integration(integration_id.into()), Channel::Api, String::new())
    }

    /// Klaxon on its own behalf, for a service.
    pub fn auto(service_id: impl Into<String>) -> Self {
        Self::new(Agent::Service(service_id.into()), Channel::Auto, String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip_through_their_wire_names() {
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>(), Ok(c));
        }
        assert!("carrier_pigeon".parse::<Channel>().is_err());
    }

    #[test]
    fn agents_round_trip_through_references() {
        for agent in [Agent::User("PU".into()), Agent::Service("PS".into()), Agent::Integration("PI".into())] {
            assert_eq!(Agent::from_reference(agent.reference_type(), agent.id()), Some(agent.clone()));
        }
        assert_eq!(Agent::Klaxon.reference_type(), None);
    }
}
