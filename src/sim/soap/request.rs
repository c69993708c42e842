//! How the simulated camera reads an incoming device-service request, before it knows anything about
//! the camera: the SOAP envelope (UTF-8, well-formed, not nested too deeply), the operation (the Body's
//! first element: the simulator takes the action from there, not from the Content-Type), the
//! WS-Security UsernameToken in the header, and an HTTP Digest `Authorization` header. Pure, so the
//! fuzz targets (fuzz/) run exactly what the camera runs.

use oxvif::soap::XmlNode;

use crate::camera::xml_guard::{MAX_XML_DEPTH, nesting_within};
use crate::sim::camera::{Credential, PasswordProof};

/// A request's body, read.
#[derive(Debug)]
pub struct DeviceRequest {
    /// The operation: the SOAP Body's first element.
    pub operation: XmlNode,
    /// The WS-Security UsernameToken the header carries, when it carries one.
    pub username_token: Option<Credential>,
}

/// Why a request's body is not a SOAP request the camera can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreadable {
    /// Not UTF-8, not well-formed XML, or nested too deeply (an empty body among them).
    NotXml,
    /// XML, but not a SOAP envelope.
    NotEnvelope,
    /// An envelope without a Body.
    NoBody,
    /// A Body without an operation.
    EmptyBody,
}

impl Unreadable {
    /// The words of the fault the camera answers with.
    pub fn words(self) -> &'static str {
        match self {
            Unreadable::NotXml => "The request is not well-formed XML",
            Unreadable::NotEnvelope => "The request is not a SOAP envelope",
            Unreadable::NoBody => "The SOAP envelope has no Body",
            Unreadable::EmptyBody => "The SOAP Body is empty",
        }
    }
}

/// Reads a device-service request's body: its operation and the UsernameToken it carries.
pub fn read_request(body: &[u8]) -> Result<DeviceRequest, Unreadable> {
    let mut root = std::str::from_utf8(body)
        .ok()
        .filter(|_| nesting_within(body, MAX_XML_DEPTH))
        .and_then(|text| XmlNode::parse(text).ok())
        .ok_or(Unreadable::NotXml)?;
    if root.local_name != "Envelope" {
        return Err(Unreadable::NotEnvelope);
    }
    let username_token = username_token(&root);
    let at = root
        .children
        .iter()
        .position(|c| c.local_name == "Body")
        .ok_or(Unreadable::NoBody)?;
    let mut soap_body = root.children.swap_remove(at);
    if soap_body.children.is_empty() {
        return Err(Unreadable::EmptyBody);
    }
    Ok(DeviceRequest {
        operation: soap_body.children.swap_remove(0),
        username_token,
    })
}

/// The WS-Security UsernameToken in an envelope's header, as sent (checked later, by the camera).
fn username_token(root: &XmlNode) -> Option<Credential> {
    let token = root.path(&["Header", "Security", "UsernameToken"])?;
    let username = token.child("Username")?.text().to_owned();
    let password_node = token.child("Password");
    let password_text = password_node
        .map(|n| n.text().to_owned())
        .unwrap_or_default();
    let is_digest = password_node
        .and_then(|n| n.attr("Type"))
        .is_some_and(|t| t.ends_with("#PasswordDigest"));
    Some(Credential::UsernameToken {
        username,
        password: if is_digest {
            PasswordProof::Digest(password_text)
        } else {
            PasswordProof::Text(password_text)
        },
        nonce_b64: token.child("Nonce").map(|n| n.text().to_owned()),
        created: token.child("Created").map(|n| n.text().to_owned()),
    })
}

/// An HTTP `Authorization: Digest ...` header, read; `None` when it is not one the camera can check.
/// Only ASCII is taken, which is all HTTP header text the camera's server hands on: the parser
/// (`digest_auth`) slices by character count and would panic on wider characters.
pub fn read_digest_authorization(header: &str) -> Option<digest_auth::AuthorizationHeader> {
    if !header.is_ascii() {
        return None;
    }
    digest_auth::AuthorizationHeader::parse(header).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxvif::soap::{SoapEnvelope, WsSecurityToken};

    #[test]
    fn a_recorder_s_request_is_read_with_its_token() {
        let envelope = SoapEnvelope::new("<tds:GetDeviceInformation/>".to_owned())
            .with_wsa_to("http://192.168.1.64/onvif/device_service".to_owned())
            .with_security(WsSecurityToken::generate("admin", "Harbor-Lamp-62", 0))
            .build();
        let request = read_request(envelope.as_bytes()).expect("readable");
        assert_eq!(request.operation.local_name, "GetDeviceInformation");
        let Some(Credential::UsernameToken {
            username,
            password: PasswordProof::Digest(digest),
            nonce_b64: Some(_),
            created: Some(_),
        }) = request.username_token
        else {
            panic!("a digest UsernameToken: {:?}", request.username_token);
        };
        assert_eq!(username, "admin");
        assert!(!digest.is_empty());
    }

    #[test]
    fn what_is_not_a_soap_request_says_why() {
        let read = |body: &str| read_request(body.as_bytes()).err();
        assert_eq!(read(""), Some(Unreadable::NotXml));
        assert_eq!(read(&"<a>".repeat(100_000)), Some(Unreadable::NotXml));
        assert_eq!(read("<x/>"), Some(Unreadable::NotEnvelope));
        assert_eq!(
            read(r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>"#),
            Some(Unreadable::NoBody)
        );
        assert_eq!(
            read(r#"<s:Envelope xmlns:s="urn:s"><s:Body/></s:Envelope>"#),
            Some(Unreadable::EmptyBody)
        );
        assert!(read_request(b"\xff\xfe").is_err());
    }

    #[test]
    fn a_digest_header_with_wider_characters_is_refused_not_a_panic() {
        let header = r#"Digest username="admin", realm="VigilSimCamera", nonce="abc", uri="/onvif/device_service", response="0123456789abcdef0123456789abcdef""#;
        let auth = read_digest_authorization(header).expect("read");
        assert_eq!(auth.username, "admin");
        // A name that starts with a wider character: the parser would slice into it.
        assert!(read_digest_authorization(r#"Digest é="a", realm="b""#).is_none());
    }
}
