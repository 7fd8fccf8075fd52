use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue, Issuer, KeyPair};

use super::*;

/// A serialized `msp.SerializedIdentity`.
fn creator(msp_id: &str, pem: &str) -> Vec<u8> {
    let mut out = Vec::new();
    proto::put_bytes_field(&mut out, 1, msp_id.as_bytes());
    proto::put_bytes_field(&mut out, 2, pem.as_bytes());
    out
}

fn decoded_id(identity: &ClientIdentity) -> String {
    String::from_utf8(der::base64_decode(&identity.id()).unwrap()).unwrap()
}

/// `certWithOutAttrs` and `certWithAttrs` of the Go shim's `ext/cid/cid_test.go`.
const GO_CERT_WITHOUT_ATTRS: &str = "-----BEGIN CERTIFICATE-----
MIICXTCCAgSgAwIBAgIUeLy6uQnq8wwyElU/jCKRYz3tJiQwCgYIKoZIzj0EAwIw
eTELMAkGA1UEBhMCVVMxEzARBgNVBAgTCkNhbGlmb3JuaWExFjAUBgNVBAcTDVNh
biBGcmFuY2lzY28xGTAXBgNVBAoTEEludGVybmV0IFdpZGdldHMxDDAKBgNVBAsT
A1dXVzEUMBIGA1UEAxMLZXhhbXBsZS5jb20wHhcNMTcwOTA4MDAxNTAwWhcNMTgw
OTA4MDAxNTAwWjBdMQswCQYDVQQGEwJVUzEXMBUGA1UECBMOTm9ydGggQ2Fyb2xp
bmExFDASBgNVBAoTC0h5cGVybGVkZ2VyMQ8wDQYDVQQLEwZGYWJyaWMxDjAMBgNV
BAMTBWFkbWluMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEFq/90YMuH4tWugHa
oyZtt4Mbwgv6CkBSDfYulVO1CVInw1i/k16DocQ/KSDTeTfgJxrX1Ree1tjpaodG
1wWyM6OBhTCBgjAOBgNVHQ8BAf8EBAMCB4AwDAYDVR0TAQH/BAIwADAdBgNVHQ4E
FgQUhKs/VJ9IWJd+wer6sgsgtZmxZNwwHwYDVR0jBBgwFoAUIUd4i/sLTwYWvpVr
TApzcT8zv/kwIgYDVR0RBBswGYIXQW5pbHMtTWFjQm9vay1Qcm8ubG9jYWwwCgYI
KoZIzj0EAwIDRwAwRAIgCoXaCdU8ZiRKkai0QiXJM/GL5fysLnmG2oZ6XOIdwtsC
IEmCsI8Mhrvx1doTbEOm7kmIrhQwUVDBNXCWX1t3kJVN
-----END CERTIFICATE-----
";

const GO_CERT_WITH_ATTRS: &str = "-----BEGIN CERTIFICATE-----
MIIB6TCCAY+gAwIBAgIUHkmY6fRP0ANTvzaBwKCkMZZPUnUwCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAxMQZmFicmljLWNhLXNlcnZlcjAeFw0xNzA5MDgwMzQyMDBaFw0x
ODA5MDgwMzQyMDBaMB4xHDAaBgNVBAMTE015VGVzdFVzZXJXaXRoQXR0cnMwWTAT
BgcqhkjOPQIBBggqhkjOPQMBBwNCAATmB1r3CdWvOOP3opB3DjJnW3CnN8q1ydiR
dzmuA6A2rXKzPIltHvYbbSqISZJubsy8gVL6GYgYXNdu69RzzFF5o4GtMIGqMA4G
A1UdDwEB/wQEAwICBDAMBgNVHRMBAf8EAjAAMB0GA1UdDgQWBBTYKLTAvJJK08OM
VGwIhjMQpo2DrjAfBgNVHSMEGDAWgBTEs/52DeLePPx1+65VhgTwu3/2ATAiBgNV
HREEGzAZghdBbmlscy1NYWNCb29rLVByby5sb2NhbDAmBggqAwQFBgcIAQQaeyJh
dHRycyI6eyJhdHRyMSI6InZhbDEifX0wCgYIKoZIzj0EAwIDSAAwRQIhAPuEqWUp
svTTvBqLR5JeQSctJuz3zaqGRqSs2iW+QB3FAiAIP0mGWKcgSGRMMBvaqaLytBYo
9v3hRt1r8j8vN0pMcg==
-----END CERTIFICATE-----
";

#[test]
fn go_cid_test_certificates() {
    let id = ClientIdentity::from_creator(&creator("SampleOrg", GO_CERT_WITHOUT_ATTRS)).unwrap();
    assert_eq!(id.msp_id(), "SampleOrg");
    // Subject C, ST, O, OU, CN and issuer C, ST, L, O, OU, CN, written last to first.
    assert_eq!(
        decoded_id(&id),
        "x509::CN=admin,OU=Fabric,O=Hyperledger,ST=North Carolina,C=US::\
         CN=example.com,OU=WWW,O=Internet Widgets,L=San Francisco,ST=California,C=US"
    );
    assert_eq!(id.get_attribute_value("foo"), None);
    assert_eq!(id.assert_attribute_value("foo", "").unwrap_err().message(), "attribute 'foo' was not found");
    assert_eq!(id.certificate_der()[0], 0x30);

    let id = ClientIdentity::from_creator(&creator("SampleOrg", GO_CERT_WITH_ATTRS)).unwrap();
    assert_eq!(id.get_attribute_value("attr1").as_deref(), Some("val1"));
    id.assert_attribute_value("attr1", "val1").unwrap();
    assert_eq!(
        id.assert_attribute_value("attr1", "val2").unwrap_err().message(),
        "attribute 'attr1' equals 'val1', not 'val2'"
    );
    assert_eq!(decoded_id(&id), "x509::CN=MyTestUserWithAttrs::CN=fabric-ca-server");
}

/// A Fabric CA style certificate: attributes extension, several OUs, an attribute type Go's `pkix.Name` drops,
/// values that need escaping; signed by a separate CA.
#[test]
fn rcgen_certificate_with_attributes() {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut ca_dn = DistinguishedName::new();
    ca_dn.push(DnType::CountryName, "US");
    ca_dn.push(DnType::StateOrProvinceName, "North Carolina");
    ca_dn.push(DnType::OrganizationName, "org1.example.com");
    ca_dn.push(DnType::CommonName, "ca.org1.example.com");
    ca_params.distinguished_name = ca_dn;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, " user,1#");
    dn.push(DnType::OrganizationalUnitName, "client");
    // A second OU (rcgen keeps one value per type, a custom type with the same OID is another RDN).
    dn.push(DnType::CustomDnType(vec![2, 5, 4, 11]), DnValue::PrintableString("org1".try_into().unwrap()));
    dn.push(DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]), DnValue::Ia5String("a@b.c".try_into().unwrap()));
    dn.push(DnType::CountryName, "US");
    params.distinguished_name = dn;
    let attrs = r#"{"attrs":{"hf.Affiliation":"org1.department1","role":"auditor","hf.Type":"client"}}"#;
    params.custom_extensions.push(CustomExtension::from_oid_content(&[1, 2, 3, 4, 5, 6, 7, 8, 1], attrs.into()));
    let key = KeyPair::generate().unwrap();
    let pem = params.signed_by(&key, &issuer).unwrap().pem();

    let id = ClientIdentity::from_creator(&creator("Org1MSP", &pem)).unwrap();
    assert_eq!(id.msp_id(), "Org1MSP");
    assert_eq!(id.get_attribute_value("role").as_deref(), Some("auditor"));
    assert_eq!(id.get_attribute_value("hf.Type").as_deref(), Some("client"));
    assert_eq!(id.get_attribute_value("missing"), None);
    assert_eq!(
        decoded_id(&id),
        r"x509::CN=\ user\,1#,OU=client+OU=org1,C=US::CN=ca.org1.example.com,O=org1.example.com,ST=North Carolina,C=US"
    );
    assert_eq!(id.id(), der::base64_encode(decoded_id(&id).as_bytes()));
}

#[test]
fn escaping_as_go_cid() {
    assert_eq!(escape_dn_value(" #a"), r"\ #a");
    assert_eq!(escape_dn_value("#a "), r"\#a\ ");
    assert_eq!(escape_dn_value(" "), r"\ ");
    assert_eq!(escape_dn_value(r#"a,b+c"d\e<f>g;h"#), r#"a\,b\+c\"d\\e\<f\>g\;h"#);
    assert_eq!(escape_dn_value("é "), r"é\ ");
}

#[test]
fn attribute_json_as_go_reads_it() {
    let attributes = json::attributes;
    let attrs =
        attributes(br#" {"Attrs":{"a":"1","b":null},"other":[1,-2.5e3,{"x":[true,false,null]}]} "#).unwrap().unwrap();
    assert_eq!(attrs, [("a".to_owned(), "1".to_owned()), ("b".to_owned(), String::new())]);
    let escapes = br#"{"attrs":{"e":"q\"s\\/\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800x\udc00","k\u0041":"v"}}"#;
    let attrs = attributes(escapes).unwrap().unwrap();
    assert_eq!(attrs[0].1, "q\"s\\//\u{8}\u{c}\n\r\té😀\u{fffd}x\u{fffd}");
    assert_eq!(attrs[1], ("kA".to_owned(), "v".to_owned()));
    // Several matching members merge; null resets.
    let attrs = attributes(br#"{"attrs":{"a":"1","a":"x"},"ATTRS":{"b":"2"}}"#).unwrap().unwrap();
    assert_eq!(attrs, [("a".to_owned(), "x".to_owned()), ("b".to_owned(), "2".to_owned())]);
    assert_eq!(attributes(br#"{"attrs":{"a":"1"},"attrs":null}"#).unwrap(), None);
    assert_eq!(attributes(b"{}").unwrap(), None);
    assert_eq!(attributes(br#"{"attrs":{}}"#).unwrap(), Some(vec![]));
    for bad in [
        &br#"{"attrs":{"a":1}}"#[..],
        b"[]",
        b"not json",
        br#"{"attrs":{"a":"1"}"#,
        br#"{"attrs":{"a":"1"}} x"#,
        br#"{"x":01}"#,
        br#"{"x":"\u12g4"}"#,
        br#"{"x":"\u+123"}"#,
        br#"{"x":"a"#,
        br#"{"x":tru}"#,
        b"{\"x\":\"\n\"}",
    ] {
        assert!(attributes(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
    assert!(attributes(deep.as_bytes()).is_err(), "too deep");
}

#[test]
fn bad_creators_are_errors() {
    let message = |c: &[u8]| ClientIdentity::from_creator(c).unwrap_err().message().to_owned();
    assert!(message(b"").starts_with("failed to get transaction invoker's identity from the chaincode stub"));
    assert!(message(b"\x0a\x05ab").starts_with("failed to unmarshal transaction invoker's identity: "));
    assert!(message(&creator("Org1MSP", "not a pem")).starts_with("identity bytes are neither X509 PEM format"));
    let bad = "-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n";
    assert!(message(&creator("Org1MSP", bad)).starts_with("failed to parse certificate: "));
}
