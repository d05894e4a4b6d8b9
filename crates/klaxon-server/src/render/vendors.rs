//! The vendor catalogue (a small static list of monitoring tools) and vendor references, shared by
//! `/vendors` and the integrations of `/services`.

use crate::render::Reference;
use crate::state::App;

/// `(id, name, website_url, description, generic_service_type)`.
pub const VENDORS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "PAM4FGS",
        "Events API v2",
        "https://developer.pagerduty.com/docs/events-api-v2/overview/",
        "Send events from any tool with the generic Events API v2.",
        "events_api_v2_inbound_integration",
    ),
    (
        "PAM4FGT",
        "Prometheus Alertmanager",
        "https://prometheus.io/docs/alerting/latest/alertmanager/",
        "Route Alertmanager notifications (pagerduty_config) to a service.",
        "events_api_v2_inbound_integration",
    ),
    (
        "PAM4FGU",
        "Grafana",
        "https://grafana.com/docs/grafana/latest/alerting/",
        "Grafana alerting's PagerDuty contact point.",
        "events_api_v2_inbound_integration",
    ),
    (
        "PAM4FGV",
        "Zabbix",
        "https://www.zabbix.com",
        "Zabbix media type for PagerDuty.",
        "events_api_v2_inbound_integration",
    ),
    (
        "PAM4FGW",
        "Datadog",
        "https://www.datadoghq.com",
        "Datadog monitors notify a service through the PagerDuty integration.",
        "events_api_v2_inbound_integration",
    ),
    (
        "PAM4FGX",
        "Nagios",
        "https://www.nagios.org",
        "Nagios notifications through the Events API.",
        "generic_events_api_inbound_integration",
    ),
    (
        "PAM4FGY",
        "Amazon CloudWatch",
        "https://aws.amazon.com/cloudwatch/",
        "CloudWatch alarms through Amazon SNS.",
        "generic_events_api_inbound_integration",
    ),
];

/// The catalogue entry's name, if `id` is a vendor.
pub fn vendor_name(id: &str) -> Option<&'static str> {
    VENDORS.iter().find(|v| v.0 == id).map(|v| v.1)
}

/// The integration type a vendor's integrations get when the client sends no specific type.
pub fn vendor_generic_type(id: &str) -> Option<&'static str> {
    VENDORS.iter().find(|v| v.0 == id).map(|v| v.4)
}

pub fn vendor_ref(app: &App, id: &str) -> Reference {
    app.reference("vendor", "vendors", id, vendor_name(id).unwrap_or(id))
}
