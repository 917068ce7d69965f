//! A message's parts, sorted by what they are for (what `message::Parsed::parse` fills and
//! every later reader looks at).

use super::mime;

/// The parts of one message, sorted by what they are for.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The decoded Subject.
    pub subject: String,
    /// From addresses.
    pub from: Vec<String>,
    /// To addresses.
    pub to: Vec<String>,
    /// Top-level headers as (name, unfolded raw value), in order.
    pub headers: Vec<mime::Header>,
    /// `report-type` of a top-level `multipart/report`, lower-cased.
    pub report_type: Option<String>,
    /// Human-readable text parts (HTML turned into text), in order, outside any attached message.
    pub texts: Vec<String>,
    /// Bodies of `message/delivery-status` and `message/global-delivery-status` parts.
    pub delivery_status: Vec<String>,
    /// The attached original message's headers, when attached (message/rfc822,
    /// text/rfc822-headers, message/global-headers).
    pub original: Option<super::Original>,
    /// Body of a `message/feedback-report` part.
    pub feedback: Option<String>,
    /// A `message/disposition-notification` part or report type is present.
    pub mdn: bool,
    /// The notice's own Date, as a Unix time.
    pub date_unix: Option<i64>,
    /// The first attached message, whole (a gateway may forward the real notice this way).
    pub attached: Option<Vec<u8>>,
    /// IP addresses in the original message's Received headers.
    pub original_received_ips: Vec<std::net::IpAddr>,
}

impl Parsed {
    /// The first top-level header with this name (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<&str> {
        mime::header(&self.headers, name)
    }
}
