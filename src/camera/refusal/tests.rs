//! Every wording in the catalogue (docs/camera-dialects.md) read as the NVR must act on it.

use super::*;

fn soap12(code: &str, subcodes: &[&str], reason: &str) -> String {
    let mut nested = String::new();
    for s in subcodes {
        nested.push_str(&format!("<s:Subcode><s:Value>{s}</s:Value>"));
    }
    for _ in subcodes {
        nested.push_str("</s:Subcode>");
    }
    format!(
        "<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" \
         xmlns:ter=\"http://www.onvif.org/ver10/error\" \
         xmlns:wsse=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\">\
         <s:Body><s:Fault><s:Code><s:Value>{code}</s:Value>{nested}</s:Code>\
         <s:Reason><s:Text xml:lang=\"en\">{reason}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"
    )
}

fn soap11(code: &str, reason: &str) -> String {
    format!(
        "<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\">\
         <SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>{code}</faultcode>\
         <faultstring>{reason}</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
}

fn verdict(status: u16, challenge: Option<&str>, body: &str, creds: bool) -> Verdict {
    classify_reply(
        Reply {
            status,
            challenge,
            retry_after: None,
            body,
        },
        creds,
    )
}

const REJECTED: Verdict = Verdict::Refused(CameraError::CredentialsRejected);
const REQUIRED: Verdict = Verdict::Refused(CameraError::CredentialsRequired);

#[test]
fn onvif_not_authorized_in_every_status_it_comes_with() {
    let fault = soap12(
        "env:Sender",
        &["ter:NotAuthorized"],
        "Sender not Authorized",
    );
    for status in [200, 400, 401, 500] {
        assert_eq!(verdict(status, None, &fault, true), REJECTED, "{status}");
        assert_eq!(verdict(status, None, &fault, false), REQUIRED, "{status}");
    }
}

#[test]
fn every_ws_security_fault_is_a_refusal_of_the_credentials() {
    for code in [
        "wsse:FailedAuthentication",
        "wsse:InvalidSecurity",
        "wsse:InvalidSecurityToken",
        "wsse:FailedCheck",
        "wsse:SecurityTokenUnavailable",
        "wsse:UnsupportedSecurityToken",
    ] {
        // SOAP 1.2 carries the WS-Security code as a subcode, SOAP 1.1 as the faultcode itself.
        let v12 = soap12("s:Sender", &[code], "Password digest mismatch");
        let v11 = soap11(
            code,
            "The security token could not be authenticated or authorized",
        );
        for body in [&v12, &v11] {
            for status in [200, 400, 500] {
                assert_eq!(
                    verdict(status, None, body, true),
                    REJECTED,
                    "{code} {status}"
                );
                assert_eq!(
                    verdict(status, None, body, false),
                    REQUIRED,
                    "{code} {status}"
                );
            }
        }
    }
    // oxvif's mock server, to an anonymous caller.
    let missing = soap12(
        "s:Sender",
        &["wsse:FailedAuthentication"],
        "Missing Username",
    );
    assert_eq!(verdict(200, None, &missing, false), REQUIRED);
}

#[test]
fn an_expired_message_is_the_clock_not_the_password() {
    let expired = soap12(
        "s:Sender",
        &["wsse:MessageExpired"],
        "The message has expired",
    );
    assert!(matches!(
        verdict(400, None, &expired, true),
        Verdict::Refused(CameraError::ClockRejected(_))
    ));
    // Dahua's wording, and gSOAP's detail under FailedAuthentication.
    let dahua = soap12(
        "env:Sender",
        &["ter:NotAuthorized"],
        "Wsse authorized time check failed.",
    );
    assert!(matches!(
        verdict(400, None, &dahua, true),
        Verdict::Refused(CameraError::ClockRejected(_))
    ));
    let future = soap12(
        "SOAP-ENV:Sender",
        &["wsse:FailedAuthentication"],
        "Authorization request in future",
    );
    assert!(matches!(
        verdict(400, None, &future, true),
        Verdict::Refused(CameraError::ClockRejected(_))
    ));
    let v11 = soap11("wsse:MessageExpired", "The message has expired");
    assert!(matches!(
        verdict(500, None, &v11, true),
        Verdict::Refused(CameraError::ClockRejected(_))
    ));
    let stale = soap12(
        "env:Sender",
        &["ter:NotAuthorized"],
        "The security token is not fresh: its Created time is too far from the camera clock",
    );
    assert!(matches!(
        verdict(400, None, &stale, true),
        Verdict::Refused(CameraError::ClockRejected(_))
    ));
}

#[test]
fn http_401_means_credentials_with_or_without_challenge_or_body() {
    let digest = Some(r#"Digest realm="cam", nonce="abc", qop="auth""#);
    for challenge in [digest, Some("Basic realm=\"cam\""), None] {
        for body in ["", "<html><body>401 Unauthorized</body></html>"] {
            assert_eq!(verdict(401, challenge, body, true), REJECTED);
            assert_eq!(verdict(401, challenge, body, false), REQUIRED);
        }
    }
}

#[test]
fn soap_1_1_client_faults_and_reason_only_wordings() {
    for reason in [
        "Sender not authorized",
        "Authentication failed",
        "The action requested requires authorization and the sender is not authorized",
        "Invalid username or password",
        // Dahua, Amcrest and IMOU, counting down to the lock.
        "Invalid username or password! You still have 5 attempt(s).",
        // gSOAP's own wording behind a Basic challenge.
        "HTTP Error: 401 Unauthorized",
        "Authority failure",
    ] {
        assert_eq!(
            verdict(500, None, &soap11("SOAP-ENV:Client", reason), true),
            REJECTED,
            "{reason}"
        );
        assert_eq!(
            verdict(400, None, &soap12("env:Sender", &[], reason), true),
            REJECTED,
            "{reason}"
        );
    }
}

#[test]
fn lockouts_in_standard_and_vendor_words() {
    for (body, wait) in [
        (
            soap12(
                "env:Sender",
                &["ter:NotAuthorized", "vgl:AccountLocked"],
                "Account locked; retry after 1794 s",
            ),
            Some(1794),
        ),
        (
            soap12("env:Sender", &["ter:NotAuthorized"], "The user is locked"),
            None,
        ),
        (
            soap11("SOAP-ENV:Client", "User locked, try again in 30 minutes"),
            Some(1800),
        ),
        (
            soap12(
                "env:Sender",
                &[],
                "Too many failed login attempts, IP blocked",
            ),
            None,
        ),
        (
            soap12(
                "env:Sender",
                &[],
                "Too many failed login attempts; the user is blocked for 5 minutes",
            ),
            Some(300),
        ),
    ] {
        assert_eq!(
            verdict(400, None, &body, true),
            Verdict::Refused(CameraError::Locked {
                retry_after: wait.map(Duration::from_secs)
            }),
            "{body}"
        );
    }
    let page = "<html>User is locked. Please retry after 5 min</html>";
    assert_eq!(
        verdict(401, None, page, true),
        Verdict::Refused(CameraError::Locked {
            retry_after: Some(Duration::from_secs(300))
        })
    );
    let with_header = classify_reply(
        Reply {
            status: 423,
            challenge: None,
            retry_after: Some("600"),
            body: "",
        },
        true,
    );
    assert_eq!(
        with_header,
        Verdict::Refused(CameraError::Locked {
            retry_after: Some(Duration::from_secs(600))
        })
    );
}

#[test]
fn other_faults_pass_to_the_caller_and_server_errors_are_transient() {
    let argument = soap12(
        "env:Sender",
        &["ter:InvalidArgVal", "ter:UsernameMissing"],
        "No user",
    );
    assert_eq!(verdict(400, None, &argument, true), Verdict::Pass);
    // A recovery extension fault whose words mention authorization is still the extension's.
    let extension = soap12(
        "env:Sender",
        &["vrc:TokenInvalid"],
        "reset token not authorized",
    );
    assert_eq!(verdict(400, None, &extension, true), Verdict::Pass);
    // MustUnderstand on the Security header is not a wrong password; the caller reads it.
    let must = soap12("env:MustUnderstand", &[], "wsse:Security not understood");
    assert_eq!(verdict(500, None, &must, true), Verdict::Pass);
    // The device failing is left to the caller (an extension reads ActionNotSupported itself),
    // and read as the device's fault, not a refusal.
    for subcodes in [&[][..], &["ter:Action"], &["ter:ActionNotSupported"]] {
        let failed = soap12("env:Receiver", subcodes, "Action failed");
        assert_eq!(verdict(500, None, &failed, true), Verdict::Pass);
        let read = read_fault(&failed).unwrap();
        assert!(matches!(
            classify_fault(&read, true),
            Some(CameraError::DeviceFault(_))
        ));
    }
    assert!(matches!(
        verdict(503, None, "", true),
        Verdict::Refused(CameraError::Unavailable(_))
    ));
    assert!(matches!(
        verdict(500, None, "<html>oops</html>", true),
        Verdict::Refused(CameraError::Unavailable(_))
    ));
    // A missing page or a redirect is no device service answering: unreadable, not a refusal.
    for status in [301, 302, 404, 405, 204] {
        assert!(matches!(
            verdict(status, None, "", false),
            Verdict::Refused(CameraError::BadReply(_))
        ));
    }
    assert_eq!(verdict(200, None, "<ok/>", true), Verdict::Pass);
    // RFC 7616 stale=true, quoted or not, with or without a fault body: the password was right.
    for stale in [
        r#"Digest realm="cam", nonce="new", stale=true"#,
        r#"Digest realm="cam", nonce="new", stale="TRUE""#,
    ] {
        let fault = soap12(
            "env:Sender",
            &["ter:NotAuthorized"],
            "Sender not Authorized",
        );
        for body in ["", fault.as_str()] {
            assert!(matches!(
                verdict(401, Some(stale), body, true),
                Verdict::Refused(CameraError::Unavailable(_))
            ));
        }
    }
}

#[test]
fn warnings_and_other_words_are_not_read_as_a_lock_or_a_clock() {
    for reason in [
        "Sender not authorized; the account will be locked after 3 more attempts",
        "Authentication failed; account unlocked",
        "Invalid username or password! You still have 2 attempt(s).",
    ] {
        let body = soap12("env:Sender", &["ter:NotAuthorized"], reason);
        assert_eq!(verdict(400, None, &body, true), REJECTED, "{reason}");
    }
    // A password that expired is not the clock.
    let expired = soap12(
        "env:Sender",
        &["ter:NotAuthorized"],
        "The password has expired",
    );
    assert_eq!(verdict(400, None, &expired, true), REJECTED);
    // Lock words in a page's script are not what the page says.
    let page =
        "<html><head><title>401 Unauthorized</title><script>var locked=1;</script></head></html>";
    assert_eq!(verdict(401, None, page, true), REJECTED);
    // A busy camera's words are not a lock.
    let busy = "<html><title>Maximum number of connections reached</title></html>";
    assert!(matches!(
        verdict(503, None, busy, true),
        Verdict::Refused(CameraError::Unavailable(_))
    ));
    // But a server error page that says the user is locked is a lock.
    let locked_page = "<html><title>Error</title><body>User locked</body></html>";
    assert!(matches!(
        verdict(503, None, locked_page, true),
        Verdict::Refused(CameraError::Locked { .. })
    ));
    // HTTP's own lock and rate limit, whatever fault comes with them.
    let fault = soap12("env:Sender", &["acme:Whatever"], "Request denied");
    assert!(matches!(
        verdict(429, None, &fault, true),
        Verdict::Refused(CameraError::Locked { .. })
    ));
}

#[test]
fn waits_are_read_and_capped() {
    assert_eq!(
        parse_wait("retry after 1794 s"),
        Some(Duration::from_secs(1794))
    );
    assert_eq!(
        parse_wait("try again in 30 minutes"),
        Some(Duration::from_secs(1800))
    );
    assert_eq!(parse_wait("locked"), None);
    assert_eq!(parse_wait("locked 3 times"), None);
    assert_eq!(
        parse_wait("locked; retry after 90"),
        Some(Duration::from_secs(90))
    );
    assert_eq!(
        parse_wait("retry after 99999999999999999999999 s"),
        Some(MAX_RETRY_AFTER)
    );
}

#[test]
fn a_classified_refusal_survives_the_trip_through_the_transport_error() {
    for error in [
        CameraError::CredentialsRejected,
        CameraError::Locked {
            retry_after: Some(Duration::from_secs(5)),
        },
        CameraError::ClockRejected("expired".into()),
    ] {
        assert_eq!(decode(&encode(&error)), error);
    }
    assert!(matches!(decode("garbage"), CameraError::BadReply(_)));
}
