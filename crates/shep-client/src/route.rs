//! The gateways a message crossed: carried as a comma-separated list in the gRPC
//! metadata of the sync channel and in a header of the inbox messages.

/// gRPC metadata key of the route.
pub const ROUTE_METADATA: &str = "egov-route";

/// The gateways of a comma-separated route.
pub fn parse(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect()
}

/// The route of a request's metadata (empty when there is none).
pub fn of_metadata(md: &tonic::metadata::MetadataMap) -> Vec<String> {
    md.get(ROUTE_METADATA)
        .and_then(|v| v.to_str().ok())
        .map(parse)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn routes_parse() {
        assert_eq!(
            super::parse("shep,rshep-almaty"),
            vec!["shep", "rshep-almaty"]
        );
        assert!(super::parse("").is_empty());
        assert_eq!(super::parse(",shep,"), vec!["shep"]);
    }
}
