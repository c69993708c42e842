//! The simulated camera's ONVIF device service: reads a SOAP 1.2 request, authenticates it against the
//! camera, runs the operation and renders the schema-ordered response or an ONVIF fault.

use oxvif::soap::XmlNode;

use crate::clock::{rfc3339, unix_secs};
use crate::sim::camera::{
    AccessClass, Caller, Credential, DIGEST_REALM, SimCamera, UserChange, UserLevel,
};
use crate::sim::fault::{Envelope, Fault, FaultCode};

pub mod request;

use request::{Unreadable, read_request};

const ENVELOPE_OPEN: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope""#,
    r#" xmlns:tds="http://www.onvif.org/ver10/device/wsdl""#,
    r#" xmlns:tt="http://www.onvif.org/ver10/schema""#,
    r#" xmlns:ter="http://www.onvif.org/ver10/error""#,
    r#" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd""#,
    r#" xmlns:acme="urn:example:acme:camera:1""#,
    r#" xmlns:vgl="urn:org:vigil:onvif:1""#,
    r#" xmlns:vrc="urn:org:vigil:onvif:recovery:1">"#,
    "<env:Body>"
);
const ENVELOPE_CLOSE: &str = "</env:Body></env:Envelope>";

/// A request as the HTTP face hands it over.
#[derive(Debug)]
pub struct SoapRequest<'a> {
    /// The raw request body.
    pub body: &'a [u8],
    /// The `Authorization` header, when present.
    pub authorization: Option<&'a str>,
    /// The HTTP method.
    pub method: &'a str,
    /// The HTTP request target, for HTTP Digest.
    pub uri: &'a str,
}

/// What the HTTP face sends back.
#[derive(Debug)]
pub struct SoapResponse {
    /// HTTP status.
    pub status: u16,
    /// The SOAP envelope.
    pub body: String,
    /// A `WWW-Authenticate` challenge to send with a 401.
    pub www_authenticate: Option<String>,
    /// The `Content-Type`: SOAP 1.2's, or SOAP 1.1's `text/xml` in that dialect.
    pub content_type: &'static str,
}

/// SOAP 1.2's media type.
const SOAP12_TYPE: &str = "application/soap+xml; charset=utf-8";
/// SOAP 1.1's media type.
const SOAP11_TYPE: &str = "text/xml; charset=utf-8";

/// Answers one device-service request.
pub async fn handle(camera: &SimCamera, request: &SoapRequest<'_>) -> SoapResponse {
    camera.note_request();
    if camera.take_server_error() {
        return SoapResponse {
            status: 503,
            body: String::new(),
            www_authenticate: None,
            content_type: "text/plain",
        };
    }
    match handle_inner(camera, request).await {
        Ok(body) => SoapResponse {
            status: 200,
            body: envelope(&body),
            www_authenticate: None,
            content_type: SOAP12_TYPE,
        },
        Err(fault) => {
            let fault = camera.dialect().word(fault);
            let www_authenticate = if fault.http_status != 401 {
                None
            } else if fault.challenge {
                Some(format!(
                    r#"Digest realm="{DIGEST_REALM}", qop="auth", algorithm=MD5, nonce="{}""#,
                    camera.issue_digest_nonce()
                ))
            } else if fault.basic_challenge {
                Some(r#"Basic realm="gSOAP Web Service""#.to_owned())
            } else {
                None
            };
            let (body, content_type) = match (fault.envelope, fault.html) {
                (Envelope::Soap12, _) => (envelope(&render_fault(&fault)), SOAP12_TYPE),
                (Envelope::Soap11, _) => (render_soap11_fault(&fault), SOAP11_TYPE),
                (Envelope::Empty, Some(page)) => (page.to_owned(), "text/html"),
                (Envelope::Empty, None) => (String::new(), SOAP12_TYPE),
            };
            SoapResponse {
                status: fault.http_status,
                body,
                www_authenticate,
                content_type,
            }
        }
    }
}

async fn handle_inner(camera: &SimCamera, request: &SoapRequest<'_>) -> Result<String, Fault> {
    let read = match read_request(request.body) {
        Ok(read) => read,
        // HTTP clients such as curl --digest send an empty body first to get the challenge: like real
        // cameras, ask an operational camera's anonymous callers for credentials before reading XML.
        Err(Unreadable::NotXml) if request.authorization.is_none() && !camera.is_inactive() => {
            return Err(Fault::http_unauthorized("This service needs credentials"));
        }
        Err(unreadable) => return Err(Fault::well_formed(unreadable.words())),
    };
    let operation = &read.operation;
    // Only the vigil persona has the recovery extension; the others answer as cameras without it.
    let recovery_extension = matches!(
        operation.local_name.as_str(),
        "GetRecoveryInfo"
            | "SendCode"
            | "VerifyCode"
            | "VerifySupportCode"
            | "ResetPassword"
            | "ActivateDevice"
            | "SetResetEmail"
    );
    if recovery_extension && camera.identity().persona != crate::sim::persona::Persona::Vigil {
        return Err(Fault::action_not_supported(&operation.local_name));
    }
    let class = match access_class(&operation.local_name)
        .ok_or_else(|| Fault::action_not_supported(&operation.local_name))?
    {
        AccessClass::PreAuth
            if operation.local_name == "GetSystemDateAndTime"
                && !camera.policy().anonymous_clock =>
        {
            AccessClass::Authenticated
        }
        class => class,
    };

    let credential = read.username_token.or_else(|| {
        request
            .authorization
            .filter(|h| h.trim_start().starts_with("Digest"))
            .map(|header| Credential::HttpDigest {
                header: header.to_owned(),
                method: request.method.to_owned(),
            })
    });
    if credential.is_some() && camera.take_login_server_error() {
        return Err(Fault::unavailable());
    }
    let caller = camera.authenticate(credential.as_ref(), request.uri)?;
    camera.authorize(&caller, class)?;
    if let Some(reply) = recovery_operation(camera, operation).await {
        return reply;
    }
    run(camera, &caller, operation)
}

/// The access class of every operation the simulator serves; `None` for the rest.
fn access_class(operation: &str) -> Option<AccessClass> {
    Some(match operation {
        "GetSystemDateAndTime"
        | "GetCapabilities"
        | "GetServices"
        | "GetServiceCapabilities"
        | "GetEndpointReference"
        | "GetWsdlUrl" => AccessClass::PreAuth,
        "GetDeviceInformation"
        | "GetScopes"
        | "GetNetworkInterfaces"
        | "GetHostname"
        | "GetNetworkDefaultGateway"
        | "GetNTP" => AccessClass::ReadSystem,
        "SetNetworkInterfaces"
        | "SetNetworkDefaultGateway"
        | "SetSystemDateAndTime"
        | "SetNTP"
        | "SystemReboot"
        | "SetSystemFactoryDefault" => AccessClass::WriteSystem,
        "GetUsers" => AccessClass::ReadSystemSecret,
        "CreateUsers" | "DeleteUsers" => AccessClass::WriteSystem,
        // Any user may change their own password (ONVIF Core, user handling); SetUser itself refuses
        // another user or a level unless the caller is an Administrator.
        "SetUser" => AccessClass::Authenticated,
        // The vigil recovery extension (docs/recovery-protocol.md).
        "GetRecoveryInfo" | "SendCode" | "VerifyCode" | "VerifySupportCode" | "ResetPassword"
        | "ActivateDevice" => AccessClass::PreAuth,
        "SetResetEmail" => AccessClass::WriteSystem,
        _ => return None,
    })
}

fn run(camera: &SimCamera, caller: &Caller, operation: &XmlNode) -> Result<String, Fault> {
    let id = camera.identity();
    Ok(match operation.local_name.as_str() {
        "GetSystemDateAndTime" => system_date_and_time(unix_secs(camera.camera_now())),
        "GetDeviceInformation" => format!(
            "<tds:GetDeviceInformationResponse>\
             <tds:Manufacturer>{}</tds:Manufacturer><tds:Model>{}</tds:Model>\
             <tds:FirmwareVersion>{}</tds:FirmwareVersion><tds:SerialNumber>{}</tds:SerialNumber>\
             <tds:HardwareId>{}</tds:HardwareId></tds:GetDeviceInformationResponse>",
            esc(&id.manufacturer),
            esc(&id.model),
            esc(&id.firmware),
            esc(&id.serial),
            esc(&id.hardware_id)
        ),
        "GetCapabilities" => capabilities(&camera.device_service_url()),
        "GetServices" => format!(
            "<tds:GetServicesResponse><tds:Service>\
             <tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace>\
             <tds:XAddr>{}</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version>\
             </tds:Service></tds:GetServicesResponse>",
            esc(&camera.device_service_url())
        ),
        "GetServiceCapabilities" => "<tds:GetServiceCapabilitiesResponse><tds:Capabilities>\
             <tds:Network ZeroConfiguration=\"false\" IPVersion6=\"false\"/>\
             <tds:Security UsernameToken=\"true\" HttpDigest=\"true\" MaxUsers=\"16\" \
             MaxUserNameLength=\"32\" MaxPasswordLength=\"64\"/>\
             <tds:System DiscoveryResolve=\"false\" DiscoveryBye=\"true\" RemoteDiscovery=\"false\"/>\
             </tds:Capabilities></tds:GetServiceCapabilitiesResponse>"
            .to_owned(),
        "GetEndpointReference" => format!(
            "<tds:GetEndpointReferenceResponse><tds:GUID>{}</tds:GUID></tds:GetEndpointReferenceResponse>",
            esc(&id.endpoint_ref)
        ),
        "GetWsdlUrl" => "<tds:GetWsdlUrlResponse><tds:WsdlUrl>http://www.onvif.org/</tds:WsdlUrl></tds:GetWsdlUrlResponse>".to_owned(),
        "GetHostname" => format!(
            "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>\
             <tt:Name>cam-{}</tt:Name></tds:HostnameInformation></tds:GetHostnameResponse>",
            esc(&id.serial.to_ascii_lowercase())
        ),
        "GetScopes" => {
            let items: String = camera
                .scopes()
                .iter()
                .map(|s| {
                    format!(
                        "<tds:Scopes><tt:ScopeDef>Fixed</tt:ScopeDef><tt:ScopeItem>{}</tt:ScopeItem></tds:Scopes>",
                        esc(s)
                    )
                })
                .collect();
            format!("<tds:GetScopesResponse>{items}</tds:GetScopesResponse>")
        }
        "GetNetworkInterfaces" => {
            let network = camera.network();
            format!(
                "<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token=\"eth0\">\
                 <tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name><tt:HwAddress>{}</tt:HwAddress>\
                 <tt:MTU>1500</tt:MTU></tt:Info><tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config>\
                 <tt:Manual><tt:Address>{}</tt:Address><tt:PrefixLength>{}</tt:PrefixLength></tt:Manual>\
                 <tt:DHCP>{}</tt:DHCP></tt:Config></tt:IPv4></tds:NetworkInterfaces>\
                 </tds:GetNetworkInterfacesResponse>",
                esc(&id.mac),
                camera.http_addr().ip(),
                network.prefix_len,
                network.dhcp
            )
        }
        "GetNetworkDefaultGateway" => format!(
            "<tds:GetNetworkDefaultGatewayResponse><tds:NetworkGateway>{}</tds:NetworkGateway>\
             </tds:GetNetworkDefaultGatewayResponse>",
            camera
                .network()
                .gateway
                .map(|g| format!("<tt:IPv4Address>{g}</tt:IPv4Address>"))
                .unwrap_or_default()
        ),
        "SetNetworkInterfaces" => {
            let token = operation
                .child("InterfaceToken")
                .map(|n| n.text().trim().to_owned())
                .unwrap_or_default();
            let ipv4 = operation
                .child("NetworkInterface")
                .and_then(|n| n.child("IPv4"));
            let dhcp = ipv4
                .and_then(|v4| v4.child("DHCP"))
                .map(|n| matches!(n.text().trim(), "true" | "1"));
            let manual = match ipv4.and_then(|v4| v4.child("Manual")) {
                Some(manual) => {
                    let address = manual
                        .child("Address")
                        .and_then(|n| n.text().trim().parse::<std::net::IpAddr>().ok())
                        .ok_or_else(|| Fault::invalid_arg("Invalid IPv4 address"))?;
                    let prefix_len = manual
                        .child("PrefixLength")
                        .and_then(|n| n.text().trim().parse::<u8>().ok())
                        .ok_or_else(|| Fault::invalid_arg("Invalid prefix length"))?;
                    Some((address, prefix_len))
                }
                None => None,
            };
            let reboot_needed = camera.set_network_interface(&token, dhcp, manual)?;
            format!(
                "<tds:SetNetworkInterfacesResponse><tds:RebootNeeded>{reboot_needed}</tds:RebootNeeded>\
                 </tds:SetNetworkInterfacesResponse>"
            )
        }
        "SetNetworkDefaultGateway" => {
            let gateway = match operation.child("IPv4Address") {
                Some(node) => Some(
                    node.text()
                        .trim()
                        .parse::<std::net::Ipv4Addr>()
                        .map_err(|_| Fault::invalid_arg("Invalid gateway address"))?,
                ),
                None => None,
            };
            camera.set_gateway(gateway);
            "<tds:SetNetworkDefaultGatewayResponse/>".to_owned()
        }
        "SetSystemDateAndTime" => {
            let kind = operation
                .child("DateTimeType")
                .map(|n| n.text().trim().to_owned())
                .unwrap_or_default();
            match kind.as_str() {
                "NTP" => camera.use_ntp_time(),
                "Manual" => {
                    let utc = operation
                        .child("UTCDateTime")
                        .ok_or_else(|| Fault::invalid_arg("Manual time needs UTCDateTime"))?;
                    let field = |parent: &str, name: &str| {
                        utc.child(parent)
                            .and_then(|p| p.child(name))
                            .and_then(|n| n.text().trim().parse::<u32>().ok())
                    };
                    let secs = (|| {
                        crate::sim::camera::unix_secs_of(
                            i64::from(field("Date", "Year")?),
                            field("Date", "Month")?,
                            field("Date", "Day")?,
                            field("Time", "Hour")?,
                            field("Time", "Minute")?,
                            field("Time", "Second")?,
                        )
                    })()
                    .ok_or_else(|| Fault::invalid_arg("Invalid date or time"))?;
                    camera.set_clock_to(secs);
                }
                _ => return Err(Fault::invalid_arg("DateTimeType must be Manual or NTP")),
            }
            "<tds:SetSystemDateAndTimeResponse/>".to_owned()
        }
        "SetNTP" => {
            let server = operation
                .children_named("NTPManual")
                .find_map(|m| {
                    ["DNSname", "IPv4Address"]
                        .iter()
                        .find_map(|name| m.child(name).map(|n| n.text().trim().to_owned()))
                })
                .filter(|s| !s.is_empty());
            camera.set_ntp_server(server);
            "<tds:SetNTPResponse/>".to_owned()
        }
        "SystemReboot" => {
            camera.order(crate::sim::camera::Lifecycle::Reboot {
                factory_hard: false,
            });
            format!(
                "<tds:SystemRebootResponse><tds:Message>Rebooting in {} seconds</tds:Message>\
                 </tds:SystemRebootResponse>",
                camera.policy().reboot_time.as_secs().max(1)
            )
        }
        "SetSystemFactoryDefault" => {
            match operation
                .child("FactoryDefault")
                .map(|n| n.text().trim().to_owned())
                .as_deref()
            {
                Some("Soft") => camera.soft_factory_default(),
                Some("Hard") => camera.order(crate::sim::camera::Lifecycle::Reboot {
                    factory_hard: true,
                }),
                _ => return Err(Fault::invalid_arg("FactoryDefault must be Hard or Soft")),
            }
            "<tds:SetSystemFactoryDefaultResponse/>".to_owned()
        }
        "GetUsers" => {
            let users: String = camera
                .users()
                .iter()
                .map(|(name, level)| {
                    format!(
                        "<tds:User><tt:Username>{}</tt:Username><tt:UserLevel>{}</tt:UserLevel></tds:User>",
                        esc(name),
                        level.as_str()
                    )
                })
                .collect();
            format!("<tds:GetUsersResponse>{users}</tds:GetUsersResponse>")
        }
        "CreateUsers" => {
            let users = user_changes(operation, true)?;
            camera.create_users(&users)?;
            "<tds:CreateUsersResponse/>".to_owned()
        }
        "SetUser" => {
            let users = user_changes(operation, false)?;
            camera.set_users(caller, &users)?;
            "<tds:SetUserResponse/>".to_owned()
        }
        "DeleteUsers" => {
            let names: Vec<String> = operation
                .children_named("Username")
                .map(|n| n.text().to_owned())
                .collect();
            if names.is_empty() {
                return Err(Fault::invalid_arg("No user name given"));
            }
            camera.delete_users(&names)?;
            "<tds:DeleteUsersResponse/>".to_owned()
        }
        other => return Err(Fault::action_not_supported(other)),
    })
}

/// Runs an operation of the recovery extension; `None` when `operation` is not one.
async fn recovery_operation(
    camera: &SimCamera,
    operation: &XmlNode,
) -> Option<Result<String, Fault>> {
    let text = |name: &str| operation.child(name).map(|n| n.text().trim().to_owned());
    let required = |name: &'static str| {
        text(name)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Fault::invalid_arg(&format!("{name} is required")))
    };
    let token_reply = |element: &str, (token, expires): (String, std::time::SystemTime)| {
        format!(
            "<vrc:{element}Response><vrc:ResetToken>{}</vrc:ResetToken><vrc:Expires>{}</vrc:Expires></vrc:{element}Response>",
            esc(&token),
            rfc3339(expires)
        )
    };
    let reply = match operation.local_name.as_str() {
        "GetRecoveryInfo" => {
            let keep = text("KeepChallenge").is_some_and(|t| t == "true" || t == "1");
            camera.recovery_info(keep).map(|info| recovery_info(&info))
        }
        "SendCode" => camera.send_code(text("Nonce").as_deref()).await.map(|(masked, expires)| {
            format!(
                "<vrc:SendCodeResponse><vrc:ResetEmail>{}</vrc:ResetEmail><vrc:Expires>{}</vrc:Expires></vrc:SendCodeResponse>",
                esc(&masked),
                rfc3339(expires)
            )
        }),
        "VerifyCode" => required("Code")
            .and_then(|code| camera.verify_code(text("Nonce").as_deref(), &code))
            .map(|t| token_reply("VerifyCode", t)),
        "VerifySupportCode" => required("Code")
            .and_then(|code| camera.verify_support_code(&code))
            .map(|t| token_reply("VerifySupportCode", t)),
        "ResetPassword" => (|| {
            let token = required("ResetToken")?;
            let password = required("NewPassword")?;
            let user = text("Username")
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| crate::sim::recovery::DEFAULT_RESET_USER.to_owned());
            camera.reset_password(&token, &user, &password)?;
            Ok("<vrc:ResetPasswordResponse/>".to_owned())
        })(),
        "SetResetEmail" => required("Email")
            .and_then(|email| camera.set_reset_email(&email))
            .map(|()| "<vrc:SetResetEmailResponse/>".to_owned()),
        "ActivateDevice" => (|| {
            let user = text("Username")
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| crate::sim::recovery::DEFAULT_RESET_USER.to_owned());
            camera.activate(&user, &required("Password")?, &required("ResetEmail")?)?;
            Ok("<vrc:ActivateDeviceResponse/>".to_owned())
        })(),
        _ => return None,
    };
    Some(reply)
}

fn recovery_info(info: &crate::sim::recovery::RecoveryInfo) -> String {
    let email = info
        .masked_email
        .as_ref()
        .map(|m| format!("<vrc:ResetEmail>{}</vrc:ResetEmail>", esc(m)))
        .unwrap_or_default();
    let challenge = info
        .challenge
        .as_ref()
        .map(|(nonce, expires)| {
            format!(
                "<vrc:Challenge><vrc:Nonce>{}</vrc:Nonce><vrc:Expires>{}</vrc:Expires>\
                 <vrc:QrPayload>{}</vrc:QrPayload><vrc:AttemptsLeft>{}</vrc:AttemptsLeft></vrc:Challenge>",
                esc(nonce),
                rfc3339(*expires),
                esc(&crate::sim::recovery::qr_payload(&info.serial, nonce, *expires)),
                info.attempts_left
            )
        })
        .unwrap_or_default();
    format!(
        "<vrc:GetRecoveryInfoResponse><vrc:ProtocolVersion>1</vrc:ProtocolVersion>\
         <vrc:SerialNumber>{}</vrc:SerialNumber><vrc:MacAddress>{}</vrc:MacAddress><vrc:Date>{}</vrc:Date>\
         {email}<vrc:Internet>{}</vrc:Internet><vrc:Inactive>{}</vrc:Inactive><vrc:Methods>{}</vrc:Methods>\
         <vrc:ResetUser>{}</vrc:ResetUser>{challenge}</vrc:GetRecoveryInfoResponse>",
        esc(&info.serial),
        esc(&info.mac),
        info.date,
        info.internet,
        info.inactive,
        info.methods.join(" "),
        esc(&info.reset_user),
    )
}

fn user_changes(operation: &XmlNode, level_required: bool) -> Result<Vec<UserChange>, Fault> {
    let users: Vec<UserChange> = operation
        .children_named("User")
        .map(|user| {
            let level = match user.child("UserLevel") {
                Some(n) => Some(
                    UserLevel::parse(n.text())
                        .ok_or_else(|| Fault::invalid_arg("Unknown user level"))?,
                ),
                None if level_required => {
                    return Err(Fault::invalid_arg("A user level is required"));
                }
                None => None,
            };
            Ok(UserChange {
                username: user
                    .child("Username")
                    .map(|n| n.text().to_owned())
                    .unwrap_or_default(),
                password: user.child("Password").map(|n| n.text().to_owned()),
                level,
            })
        })
        .collect::<Result<_, Fault>>()?;
    if users.is_empty() {
        return Err(Fault::invalid_arg("No user given"));
    }
    Ok(users)
}

/// Extracts the WS-Security UsernameToken, if the request carries one.
fn system_date_and_time(unix: i64) -> String {
    let dt =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let date_time = format!(
        "<tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time>\
         <tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date>",
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.year(),
        u8::from(dt.month()),
        dt.day()
    );
    format!(
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>\
         <tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>\
         <tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>\
         <tt:UTCDateTime>{date_time}</tt:UTCDateTime><tt:LocalDateTime>{date_time}</tt:LocalDateTime>\
         </tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )
}

fn capabilities(device_url: &str) -> String {
    format!(
        "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device>\
         <tt:XAddr>{}</tt:XAddr>\
         <tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false</tt:ZeroConfiguration>\
         <tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false</tt:DynDNS></tt:Network>\
         <tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>true</tt:DiscoveryBye>\
         <tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>false</tt:SystemBackup>\
         <tt:SystemLogging>false</tt:SystemLogging><tt:FirmwareUpgrade>false</tt:FirmwareUpgrade>\
         <tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions></tt:System>\
         <tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2>\
         <tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>false</tt:AccessPolicyConfig>\
         <tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>false</tt:SAMLToken>\
         <tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false</tt:RELToken></tt:Security>\
         </tt:Device></tds:Capabilities></tds:GetCapabilitiesResponse>",
        esc(device_url)
    )
}

fn render_fault(fault: &Fault) -> String {
    let code = match fault.code {
        FaultCode::Sender => "env:Sender",
        FaultCode::Receiver => "env:Receiver",
    };
    let mut subcodes = String::new();
    for sub in &fault.subcodes {
        subcodes.push_str("<env:Subcode><env:Value>");
        subcodes.push_str(sub);
        subcodes.push_str("</env:Value>");
    }
    for _ in &fault.subcodes {
        subcodes.push_str("</env:Subcode>");
    }
    let detail = if fault.detail.is_empty() {
        String::new()
    } else {
        let elements: String = fault
            .detail
            .iter()
            .map(|(element, text)| format!("<{element}>{}</{element}>", esc(text)))
            .collect();
        format!("<env:Detail>{elements}</env:Detail>")
    };
    format!(
        "<env:Fault><env:Code><env:Value>{code}</env:Value>{subcodes}</env:Code>\
         <env:Reason><env:Text xml:lang=\"en\">{}</env:Text></env:Reason>{detail}</env:Fault>",
        esc(&fault.reason)
    )
}

/// A SOAP 1.1 fault: `faultcode` (the innermost subcode, else `SOAP-ENV:Client` or `Server`) and
/// `faultstring`.
fn render_soap11_fault(fault: &Fault) -> String {
    let code = match (fault.subcodes.last(), fault.code) {
        (Some(sub), _) => (*sub).to_owned(),
        (None, FaultCode::Sender) => "SOAP-ENV:Client".to_owned(),
        (None, FaultCode::Receiver) => "SOAP-ENV:Server".to_owned(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\">\
         <SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>{}</faultcode><faultstring>{}</faultstring>\
         </SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>",
        esc(&code),
        esc(&fault.reason)
    )
}

fn envelope(body: &str) -> String {
    let mut out = String::with_capacity(ENVELOPE_OPEN.len() + body.len() + ENVELOPE_CLOSE.len());
    out.push_str(ENVELOPE_OPEN);
    out.push_str(body);
    out.push_str(ENVELOPE_CLOSE);
    out
}

/// Escapes text for XML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
