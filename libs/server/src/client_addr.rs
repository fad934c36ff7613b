//! The client address of a request, for throttling and logs (see
//! [`pp_types::net::TrustedProxies`] for which hop counts as the client).

use std::net::IpAddr;

pub use pp_types::net::TrustedProxies;

/// The client address of a request, put into its extensions by the request-context
/// layer (see [`crate::RequestContextLayer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// From the TCP peer and the `x-forwarded-for` headers, believing only `trusted`.
    pub fn from_parts(
        trusted: &TrustedProxies,
        peer: Option<IpAddr>,
        headers: &http::HeaderMap,
    ) -> Option<ClientAddr> {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok());
        peer.map(|peer| ClientAddr(trusted.client_addr(peer, forwarded)))
    }

    /// The client address of a tonic request (`None` outside a server).
    pub fn of<T>(request: &tonic::Request<T>) -> Option<IpAddr> {
        request.extensions().get::<ClientAddr>().map(|c| c.0)
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
