//! JSON Web Key Sets (RFC 7517) as Better Auth publishes them, and verification of a token
//! against the key its `kid` names. Pure: no I/O, unit-tested with fixed keys.
//!
//! Per RFC 8725 the algorithm belongs to the key, never to the token: each usable JWK is bound
//! to exactly one algorithm when the set is parsed (from `kty`/`crv`, and `alg` where the key
//! type alone leaves a choice), and a token whose header names another algorithm is refused by
//! jwt-compact's validator before its signature is looked at. Symmetric (`oct`) keys are never
//! taken from a key set, so an HMAC token cannot be checked against a published key.

use jwt_compact::{
    alg::{Ed25519, Es256, Rsa, RsaPublicKey, StrongKey},
    jwk::JsonWebKey,
    Algorithm, AlgorithmExt, Token, UntrustedToken, ValidationError,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

type Ed25519Key = <Ed25519 as Algorithm>::VerifyingKey;
type Es256Key = <Es256 as Algorithm>::VerifyingKey;

/// The signature algorithms a key set may hold, by their JWS names.
pub const SUPPORTED_ALGORITHMS: [&str; 4] = ["EdDSA", "ES256", "RS256", "PS256"];

/// One verifying key, bound to its algorithm.
enum KeyMaterial {
    EdDsa(Ed25519Key),
    Es256(Es256Key),
    /// RS256 or PS256, as the JWK's `alg` says (RS256 when it says nothing).
    Rsa(Rsa, RsaPublicKey),
}

/// A usable key from the set.
pub struct Jwk {
    kid: Option<String>,
    material: KeyMaterial,
}

impl Jwk {
    /// Checks the token's header algorithm against this key's and then its signature.
    pub fn verify<C, H>(
        &self,
        token: &UntrustedToken<'_, H>,
    ) -> Result<Token<C, H>, ValidationError>
    where
        C: DeserializeOwned + Clone,
        H: Clone,
    {
        match &self.material {
            KeyMaterial::EdDsa(key) => Ed25519.validator::<C>(key).validate(token),
            KeyMaterial::Es256(key) => Es256.validator::<C>(key).validate(token),
            KeyMaterial::Rsa(rsa, key) => rsa.validator::<C>(key).validate(token),
        }
    }
}

/// The usable keys of a JWKS document. Keys this API cannot use (encryption keys, other
/// curves and algorithms, RSA under 2048 bits, malformed entries) are skipped and counted.
pub struct KeySet {
    keys: Vec<Jwk>,
}

impl KeySet {
    /// Parses a JWKS document. Fails (with a cause for the log) when it is not a JWKS or holds
    /// no usable key, since such a set could never verify anything.
    pub fn parse(json: &[u8]) -> Result<KeySet, String> {
        let document: Value = serde_json::from_slice(json)
            .map_err(|err| format!("the key set is not valid JSON: {err}"))?;
        let entries = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the key set has no \"keys\" array")?;
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            if let Some(key) = usable_key(entry) {
                keys.push(key);
            }
        }
        let skipped = entries.len() - keys.len();
        if keys.is_empty() {
            return Err(format!(
                "the key set holds no usable signing key ({skipped} skipped; supported: {})",
                SUPPORTED_ALGORITHMS.join(", ")
            ));
        }
        Ok(KeySet { keys })
    }

    /// The key a token names by `kid`. A token without `kid` may only use a set of one key.
    pub fn find(&self, kid: Option<&str>) -> Option<&Jwk> {
        match kid {
            Some(kid) => self.keys.iter().find(|key| key.kid.as_deref() == Some(kid)),
            None => match self.keys.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }
}

/// Binds one JWK to its algorithm, or returns `None` when this API cannot or must not use it.
fn usable_key(entry: &Value) -> Option<Jwk> {
    let text = |name: &str| entry.get(name).and_then(Value::as_str);
    // `use`, `alg` and `kid` are strings (RFC 7517 §4): one that is there in another form is a
    // malformed entry, not an absent member (which would leave the key unmarked, or bound by its
    // type alone).
    if ["use", "alg", "kid"]
        .iter()
        .any(|name| entry.get(*name).is_some_and(|value| !value.is_string()))
    {
        return None;
    }
    // A key published for encryption is not a signing key, whatever else it says.
    if text("use").is_some_and(|usage| usage != "sig") {
        return None;
    }
    let declared = text("alg");
    let kid = text("kid").map(str::to_owned);
    let jwk: JsonWebKey<'_> = serde_json::from_value(entry.clone()).ok()?;
    let material = match (&jwk, declared) {
        (JsonWebKey::KeyPair { curve, .. }, None | Some("EdDSA")) if curve == "Ed25519" => {
            KeyMaterial::EdDsa(Ed25519Key::try_from(&jwk).ok()?)
        }
        (JsonWebKey::EllipticCurve { curve, .. }, None | Some("ES256")) if curve == "P-256" => {
            KeyMaterial::Es256(Es256Key::try_from(&jwk).ok()?)
        }
        (JsonWebKey::Rsa { .. }, None | Some("RS256" | "PS256")) => {
            let rsa = if declared == Some("PS256") {
                Rsa::ps256()
            } else {
                Rsa::rs256()
            };
            // RFC 7518 §3.3: RSA keys must have at least 2048 bits.
            let key = StrongKey::try_from(RsaPublicKey::try_from(&jwk).ok()?).ok()?;
            KeyMaterial::Rsa(rsa, key.into_inner())
        }
        _ => return None,
    };
    Some(Jwk { kid, material })
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Key pairs generated once per test run (no private key is ever committed), published as
    //! a JWKS under fixed kids: "ed" and "ed-2" (EdDSA), "p256" (ES256), and one RSA key
    //! published twice, as "rsa-rs" (RS256) and "rsa-ps" (PS256).
    use std::sync::OnceLock;

    use jwt_compact::{
        alg::{Ed25519, Es256, ModulusBits, Rsa, RsaPrivateKey},
        jwk::JsonWebKey,
        Algorithm, AlgorithmExt, Claims, Header,
    };
    use rand_core::OsRng;
    use serde::Serialize;
    use serde_json::{json, Value};

    type EdSecret = <Ed25519 as Algorithm>::SigningKey;
    type EsSecret = <Es256 as Algorithm>::SigningKey;

    struct Keys {
        ed: EdSecret,
        ed2: EdSecret,
        p256: EsSecret,
        rsa: RsaPrivateKey,
    }

    fn keys() -> &'static Keys {
        static KEYS: OnceLock<Keys> = OnceLock::new();
        KEYS.get_or_init(|| Keys {
            ed: Ed25519::generate(&mut OsRng).0,
            ed2: Ed25519::generate(&mut OsRng).0,
            p256: EsSecret::random(&mut OsRng),
            rsa: Rsa::generate(&mut OsRng, ModulusBits::TwoKibibytes)
                .unwrap()
                .0
                .into_inner(),
        })
    }

    /// The public JWK published under `kid`.
    pub fn public_jwk(kid: &str) -> Value {
        let keys = keys();
        let jwk = |key: JsonWebKey<'_>| serde_json::to_value(key.to_verifying_key()).unwrap();
        let (mut value, alg) = match kid {
            "ed" => (jwk(JsonWebKey::from(&keys.ed.public_key())), "EdDSA"),
            "ed-2" => (jwk(JsonWebKey::from(&keys.ed2.public_key())), "EdDSA"),
            "p256" => (jwk(JsonWebKey::from(keys.p256.verifying_key())), "ES256"),
            "rsa-rs" => (jwk(JsonWebKey::from(&keys.rsa.to_public_key())), "RS256"),
            "rsa-ps" => (jwk(JsonWebKey::from(&keys.rsa.to_public_key())), "PS256"),
            other => panic!("no fixture key {other}"),
        };
        value["kid"] = json!(kid);
        value["alg"] = json!(alg);
        value
    }

    pub fn jwks(kids: &[&str]) -> Vec<u8> {
        let keys: Vec<Value> = kids.iter().map(|kid| public_jwk(kid)).collect();
        json!({ "keys": keys }).to_string().into_bytes()
    }

    /// Signs `claims` with the private half of fixture key `kid` under algorithm `alg`, with
    /// `header_kid` (if any) in the header.
    pub fn sign(kid: &str, alg: &str, header_kid: Option<&str>, claims: Value) -> String {
        let mut header = Header::empty();
        if let Some(header_kid) = header_kid {
            header = header.with_key_id(header_kid);
        }
        sign_with_header(kid, alg, header, claims)
    }

    /// [`sign`] with a header of the caller's making, extension parameters included.
    pub fn sign_with_header(
        kid: &str,
        alg: &str,
        header: Header<impl Serialize>,
        claims: Value,
    ) -> String {
        let keys = keys();
        let claims = Claims::new(claims);
        match (kid, alg) {
            ("ed", "EdDSA") => Ed25519.token(&header, &claims, &keys.ed),
            ("ed-2", "EdDSA") => Ed25519.token(&header, &claims, &keys.ed2),
            ("p256", "ES256") => Es256.token(&header, &claims, &keys.p256),
            ("rsa-rs" | "rsa-ps", "RS256" | "PS256") => alg
                .parse::<Rsa>()
                .unwrap()
                .token(&header, &claims, &keys.rsa),
            other => panic!("no signer for {other:?}"),
        }
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::{fixtures::*, *};
    use serde_json::json;

    fn sign(kid: &str, alg: &str, header_kid: Option<&str>) -> String {
        fixtures::sign(kid, alg, header_kid, json!({ "sub": "u" }))
    }

    fn verify(set: &KeySet, token: &str) -> Result<(), String> {
        let untrusted = UntrustedToken::new(token).unwrap();
        let key = set
            .find(untrusted.header().key_id.as_deref())
            .ok_or("no key")?;
        key.verify::<Value, _>(&untrusted)
            .map(|_| ())
            .map_err(|err| err.to_string())
    }

    /// The kids of the usable keys, in document order.
    fn kids(set: &KeySet) -> Vec<&str> {
        set.keys
            .iter()
            .map(|key| key.kid.as_deref().unwrap_or_default())
            .collect()
    }

    /// The one algorithm a key was bound to.
    fn algorithm(key: &Jwk) -> &'static str {
        match &key.material {
            KeyMaterial::EdDsa(_) => "EdDSA",
            KeyMaterial::Es256(_) => "ES256",
            KeyMaterial::Rsa(rsa, _) if *rsa == Rsa::ps256() => "PS256",
            KeyMaterial::Rsa(..) => "RS256",
        }
    }

    fn all() -> KeySet {
        KeySet::parse(&jwks(&["ed", "p256", "rsa-rs", "rsa-ps"])).unwrap()
    }

    #[test]
    fn each_supported_algorithm_verifies_with_its_own_key() {
        let set = all();
        assert_eq!(kids(&set), ["ed", "p256", "rsa-rs", "rsa-ps"]);
        for (kid, alg) in [
            ("ed", "EdDSA"),
            ("p256", "ES256"),
            ("rsa-rs", "RS256"),
            ("rsa-ps", "PS256"),
        ] {
            assert_eq!(algorithm(set.find(Some(kid)).unwrap()), alg);
            assert_eq!(verify(&set, &sign(kid, alg, Some(kid))), Ok(()), "{alg}");
        }
    }

    #[test]
    fn the_algorithm_is_the_keys_not_the_headers() {
        // "rsa-rs" and "rsa-ps" share one RSA modulus: a PS256 signature that is valid under
        // that key is still refused when the kid names the RS256 binding, and vice versa.
        let set = all();
        let err = verify(&set, &sign("rsa-ps", "PS256", Some("rsa-rs"))).unwrap_err();
        assert!(err.contains("lgorithm"), "{err}");
        let err = verify(&set, &sign("rsa-rs", "RS256", Some("rsa-ps"))).unwrap_err();
        assert!(err.contains("lgorithm"), "{err}");
    }

    #[test]
    fn a_token_signed_by_another_key_of_the_same_type_is_refused() {
        let set = KeySet::parse(&jwks(&["ed", "ed-2"])).unwrap();
        let forged = sign("ed-2", "EdDSA", Some("ed"));
        assert!(verify(&set, &forged)
            .unwrap_err()
            .to_lowercase()
            .contains("signature"));
    }

    #[test]
    fn keys_are_chosen_by_kid_and_a_missing_kid_needs_a_single_key_set() {
        let set = all();
        assert!(set.find(Some("unknown")).is_none());
        assert!(set.find(None).is_none());
        let single = KeySet::parse(&jwks(&["ed"])).unwrap();
        assert_eq!(verify(&single, &sign("ed", "EdDSA", None)), Ok(()));
    }

    #[test]
    fn an_alg_that_contradicts_the_key_type_makes_the_key_unusable() {
        let mut ed = public_jwk("ed");
        ed["alg"] = json!("ES256");
        let mut ec = public_jwk("p256");
        ec["alg"] = json!("EdDSA");
        let mut rsa = public_jwk("rsa-rs");
        rsa["alg"] = json!("HS256");
        let doc = json!({ "keys": [ed, ec, rsa, public_jwk("ed-2")] }).to_string();
        let set = KeySet::parse(doc.as_bytes()).unwrap();
        assert_eq!(kids(&set), ["ed-2"]);
    }

    #[test]
    fn unusable_entries_are_skipped_not_fatal() {
        let mut enc = public_jwk("p256");
        enc["use"] = json!("enc");
        let doc = json!({ "keys": [
            enc,
            { "kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256" },
            { "kty": "EC", "crv": "P-521", "x": "AA", "y": "AA", "kid": "p521" },
            { "kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "tiny" },
            { "kty": "OKP", "crv": "Ed25519", "x": "not base64!", "kid": "broken" },
            "not an object",
            public_jwk("ed"),
        ] })
        .to_string();
        let set = KeySet::parse(doc.as_bytes()).unwrap();
        assert_eq!(kids(&set), ["ed"]);
    }

    #[test]
    fn an_invalid_public_key_is_skipped() {
        // RFC 8725 §3.4: a P-256 point off the curve (one coordinate changed), an Ed25519 key
        // of 31 bytes; the valid key beside them is kept.
        let mut off_curve = public_jwk("p256");
        let y = off_curve["y"].as_str().unwrap().to_owned();
        let flipped = if y.starts_with('A') { "B" } else { "A" };
        off_curve["y"] = json!(format!("{flipped}{}", &y[1..]));
        let mut short = public_jwk("ed");
        short["kid"] = json!("short");
        short["x"] = json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let doc = json!({ "keys": [off_curve, short, public_jwk("ed-2")] }).to_string();
        let set = KeySet::parse(doc.as_bytes()).unwrap();
        assert_eq!(kids(&set), ["ed-2"]);
    }

    #[test]
    fn a_key_whose_use_alg_or_kid_is_not_a_string_is_skipped() {
        // Read as absent, `"use": 5` would make an unmarked key of an entry that tried to say
        // something else, and `"alg": 5` a key bound by its type alone.
        let mut entries = Vec::new();
        for (name, value) in [
            ("use", json!(5)),
            ("use", json!(null)),
            ("use", json!(["sig"])),
            ("alg", json!(5)),
            ("alg", json!(null)),
            ("kid", json!(7)),
        ] {
            let mut key = public_jwk("ed");
            key[name] = value;
            if name != "kid" {
                key["kid"] = json!(format!("bad-{name}"));
            }
            entries.push(key);
        }
        entries.push(public_jwk("ed-2"));
        let doc = json!({ "keys": entries }).to_string();
        let set = KeySet::parse(doc.as_bytes()).unwrap();
        assert_eq!(kids(&set), ["ed-2"]);
    }

    #[test]
    fn a_document_without_usable_keys_is_an_error() {
        for doc in [
            &b"not json"[..],
            br#"{"no":"keys"}"#,
            br#"{"keys":{}}"#,
            br#"{"keys":[]}"#,
            br#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
        ] {
            assert!(
                KeySet::parse(doc).is_err(),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
    }
}
