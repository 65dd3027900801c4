//! The token rules' tests: every verifier path, with fixed keys and an injected clock.
use super::*;
use crate::auth::key_set::fixtures;
use jwt_compact::{alg::Hs512, Header};
use serde_json::json;

const SECRET: &[u8] = b"an-hs256-test-secret-of-more-than-32-bytes";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fn key() -> Hs256Key {
    Hs256Key::new(SECRET)
}

/// An HS256 API token: `typ: JWT` in the header, as the token rules require.
fn sign(claims: Value) -> String {
    let claims = Claims::new(claims);
    let header = Header::empty().with_token_type("JWT");
    Hs256.token(&header, &claims, &key()).unwrap()
}

fn claims_with(extra: Value) -> Value {
    let mut base = json!({ "sub": "user-1", "exp": now().timestamp() + 600 });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

fn b64(data: &[u8]) -> String {
    // Base64url without padding, enough for test fixtures.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// A token with an arbitrary header, signed correctly over that header with HS256.
fn token_with_header(header: Value) -> String {
    let good = sign(claims_with(json!({})));
    let payload = good.split('.').nth(1).unwrap();
    let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), payload);
    use jwt_compact::{Algorithm, AlgorithmSignature};
    let sig = Hs256.sign(&key(), signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&sig.as_bytes()))
}

/// The HS256 path as the worker runs it, without claim expectations.
fn verify(token: &str, key: &Hs256Key, now: DateTime<Utc>) -> Result<Identity, ApiError> {
    verify_hs256(&parse(token)?, key, &Expect::default(), now)
}

fn reason(result: Result<Identity, ApiError>) -> &'static str {
    match result {
        Err(ApiError::Unauthorized(reason)) => reason,
        other => panic!("expected 401, got {other:?}"),
    }
}

#[test]
fn a_valid_token_yields_its_subject_and_email() {
    let token = sign(claims_with(json!({ "email": "a@example.com" })));
    let identity = verify(&token, &key(), now()).unwrap();
    assert_eq!(identity.user_id, "user-1");
    assert_eq!(identity.email.as_deref(), Some("a@example.com"));
}

#[test]
fn the_fixture_header_builder_matches_the_library() {
    // Guards the hand-made tokens below: a plain HS256 header must verify.
    let token = token_with_header(json!({ "alg": "HS256", "typ": "JWT" }));
    assert!(verify(&token, &key(), now()).is_ok());
}

#[test]
fn any_other_algorithm_in_the_header_is_refused() {
    for alg in [
        "none", "None", "NONE", "nOnE", "HS384", "HS512", "RS256", "ES256", "PS256", "EdDSA",
        "hs256",
    ] {
        let token = token_with_header(json!({ "alg": alg, "typ": "JWT" }));
        assert_eq!(
            reason(verify(&token, &key(), now())),
            "the token's algorithm is not accepted",
            "alg {alg}"
        );
    }
}

#[test]
fn an_unsigned_none_token_is_refused() {
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(claims_with(json!({})).to_string().as_bytes());
    for token in [
        format!("{header}.{payload}."),
        format!("{header}.{payload}"),
    ] {
        assert!(verify(&token, &key(), now()).is_err(), "{token}");
    }
}

#[test]
fn a_token_signed_with_hs512_under_the_same_secret_is_refused() {
    let claims = Claims::new(claims_with(json!({})));
    let token = Hs512
        .token(
            &Header::empty(),
            &claims,
            &jwt_compact::alg::Hs512Key::new(SECRET),
        )
        .unwrap();
    assert!(verify(&token, &key(), now()).is_err());
}

#[test]
fn a_wrong_secret_is_refused() {
    let token = sign(claims_with(json!({})));
    let other = Hs256Key::new(b"another-secret-that-is-long-enough-32b");
    assert_eq!(
        reason(verify(&token, &other, now())),
        "the token's signature is invalid"
    );
}

#[test]
fn a_tampered_payload_is_refused() {
    let token = sign(claims_with(json!({})));
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = b64(claims_with(json!({ "sub": "admin" }))
        .to_string()
        .as_bytes());
    parts[1] = &forged;
    assert!(verify(&parts.join("."), &key(), now()).is_err());
}

#[test]
fn malformed_tokens_are_refused() {
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.%%%.sig",
    ] {
        assert!(verify(token, &key(), now()).is_err(), "{token:?}");
    }
}

#[test]
fn exp_is_required() {
    let token = sign(json!({ "sub": "user-1" }));
    assert_eq!(
        reason(verify(&token, &key(), now())),
        "the token has no exp claim"
    );
}

#[test]
fn expiry_allows_at_most_sixty_seconds_of_skew() {
    let at = |offset: i64| sign(json!({ "sub": "u", "exp": now().timestamp() + offset }));
    assert!(verify(&at(-60), &key(), now()).is_ok());
    assert_eq!(
        reason(verify(&at(-61), &key(), now())),
        "the token has expired"
    );
}

#[test]
fn nbf_is_honoured_with_the_same_skew() {
    let at = |offset: i64| sign(claims_with(json!({ "nbf": now().timestamp() + offset })));
    assert!(verify(&at(60), &key(), now()).is_ok());
    assert_eq!(
        reason(verify(&at(61), &key(), now())),
        "the token is not valid yet"
    );
}

/// An HS256 token over a payload given as raw JSON text (numbers serde_json cannot hold).
fn sign_raw(payload: &str) -> String {
    sign_raw_with_header(r#"{"alg":"HS256","typ":"JWT"}"#, payload)
}

/// An HS256 token over a header and a payload given as raw JSON text.
fn sign_raw_with_header(header: &str, payload: &str) -> String {
    use jwt_compact::{Algorithm, AlgorithmSignature};
    let header = b64(header.as_bytes());
    let signing_input = format!("{header}.{}", b64(payload.as_bytes()));
    let sig = Hs256.sign(&key(), signing_input.as_bytes());
    format!("{signing_input}.{}", b64(&sig.as_bytes()))
}

/// Claim values at and beyond every bound: i64's, chrono's, the range's, floats and
/// exponents no integer holds. Raw JSON text, so each reaches the token as written.
fn extreme_times() -> Vec<String> {
    let chrono_min = DateTime::<Utc>::MIN_UTC.timestamp();
    let chrono_max = DateTime::<Utc>::MAX_UTC.timestamp();
    let fixed = [
        "-9223372036854775808",
        "9223372036854775807",
        "18446744073709551615",
        "-8334601228800",
        "-1",
        "253402300800",
        "-1e300",
        "1e300",
        "1e400",
        "-1e400",
        "1.8e9",
        "0.5",
        "1800000000.999",
    ];
    let mut values: Vec<String> = fixed.iter().map(|v| (*v).to_owned()).collect();
    values.extend([chrono_min, chrono_min + 1, chrono_max, chrono_max - 1].map(|v| v.to_string()));
    values
}

#[test]
fn extreme_time_claims_are_refused_without_panicking_in_either_verifier() {
    let exp = now().timestamp() + 600;
    let keys = key_set();
    for claim in ["exp", "nbf", "iat"] {
        for value in extreme_times() {
            let mut payload = format!(r#"{{"sub":"user-1","{claim}":{value}"#);
            if claim != "exp" {
                payload.push_str(&format!(r#","exp":{exp}"#));
            }
            payload.push('}');
            let verdict = verify(&sign_raw(&payload), &key(), now());
            // Only values that are ordinary dates within the range may pass, and only
            // when they are, as times, acceptable at `now`.
            let acceptable = matches!(
                (claim, value.as_str()),
                (_, "1.8e9" | "1800000000.999") | ("nbf" | "iat", "0.5")
            );
            assert_eq!(verdict.is_ok(), acceptable, "HS256 {payload}: {verdict:?}");

            // The same claims through the JWKS verifier, where JSON can hold the value.
            if let Ok(claims) = serde_json::from_str::<Value>(&payload) {
                let claims = better_auth_claims(claims);
                let token = fixtures::sign("ed", "EdDSA", Some("ed"), claims);
                let verdict = jwks_verify(&token, &keys, &expect_origin());
                assert_eq!(verdict.is_ok(), acceptable, "JWKS {payload}: {verdict:?}");
            }
        }
    }
}

#[test]
fn a_signed_nbf_at_the_earliest_instant_chrono_holds_is_a_401_not_a_panic() {
    // The token the penetration test sent: jwt-compact's maturity check overflowed on it.
    let exp = now().timestamp() + 600;
    let token = sign_raw(&format!(
        r#"{{"sub":"pv","exp":{exp},"nbf":-8334601228800}}"#
    ));
    assert_eq!(
        reason(verify(&token, &key(), now())),
        "the token's time claims are out of range"
    );
}

#[test]
fn time_claims_at_the_edges_of_the_range_are_judged_as_times() {
    let far = *TIME_CLAIM_RANGE.end();
    let ok = sign(json!({ "sub": "u", "exp": far, "nbf": 0, "iat": 0 }));
    assert!(verify(&ok, &key(), now()).is_ok());
    let late = sign(json!({ "sub": "u", "exp": far, "nbf": far }));
    assert_eq!(
        reason(verify(&late, &key(), now())),
        "the token is not valid yet"
    );
    let early = sign(json!({ "sub": "u", "exp": 0 }));
    assert_eq!(
        reason(verify(&early, &key(), now())),
        "the token has expired"
    );
    let beyond = sign(json!({ "sub": "u", "exp": far + 1 }));
    assert_eq!(
        reason(verify(&beyond, &key(), now())),
        "the token's time claims are out of range"
    );
}

#[test]
fn the_user_id_falls_back_from_sub_to_user_id_to_id() {
    let exp = now().timestamp() + 60;
    let cases = [
        (
            json!({ "sub": "s", "user_id": "u", "id": "i", "exp": exp }),
            "s",
        ),
        (json!({ "user_id": "u", "id": "i", "exp": exp }), "u"),
        (json!({ "id": "i", "exp": exp }), "i"),
        (json!({ "sub": null, "id": "i", "exp": exp }), "i"),
    ];
    for (claims, expected) in cases {
        let identity = verify(&sign(claims.clone()), &key(), now()).unwrap();
        assert_eq!(identity.user_id, expected, "{claims}");
    }
}

#[test]
fn an_invalid_user_id_is_refused_rather_than_falling_back() {
    let exp = now().timestamp() + 60;
    let long = "a".repeat(129);
    for claims in [
        json!({ "exp": exp }),
        json!({ "sub": "", "id": "fine", "exp": exp }),
        json!({ "sub": 42, "exp": exp }),
        json!({ "sub": "has space", "exp": exp }),
        json!({ "sub": "slash/id", "exp": exp }),
        json!({ "sub": "ünicode", "exp": exp }),
        json!({ "sub": long, "exp": exp }),
    ] {
        assert!(
            verify(&sign(claims.clone()), &key(), now()).is_err(),
            "{claims}"
        );
    }
}

#[test]
fn better_auth_and_uuid_ids_are_valid() {
    assert!(is_valid_user_id("kGqZ1sT9a8B3xYw2LmN4oP6rQ7uV0cDe"));
    assert!(is_valid_user_id("0b5c6f5e-8a51-4e0c-9a4f-4f5c1c2d3e4f"));
    assert!(is_valid_user_id("google-oauth2:1234@tenant.example"));
    assert!(is_valid_user_id(&"a".repeat(128)));
}

#[test]
fn an_unusable_email_is_ignored_not_fatal() {
    let token = sign(claims_with(json!({ "email": 7 })));
    assert_eq!(verify(&token, &key(), now()).unwrap().email, None);
    let token = sign(claims_with(json!({ "email": "" })));
    assert_eq!(verify(&token, &key(), now()).unwrap().email, None);
}

#[test]
fn the_authorization_header_must_be_a_nonempty_bearer_token() {
    assert_eq!(bearer_token(Some("Bearer abc")).unwrap(), "abc");
    assert_eq!(bearer_token(Some("bearer  abc ")).unwrap(), "abc");
    for header in [
        None,
        Some(""),
        Some("Bearer"),
        Some("Bearer "),
        Some("Basic abc"),
        Some("abc"),
    ] {
        assert!(bearer_token(header).is_err(), "{header:?}");
    }
    let huge = format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES));
    assert!(bearer_token(Some(&huge)).is_err());
}

// --- scheme selection, iss/aud, and JWKS verification -----------------------------------

const ORIGIN: &str = "https://auth.example.com";

fn expect_origin() -> Expect {
    Expect {
        issuer: Some(ORIGIN.into()),
        audience: Some(ORIGIN.into()),
    }
}

/// A Better Auth `jwt()` payload: the session user plus registered claims.
fn better_auth_claims(extra: Value) -> Value {
    let mut claims = json!({
        "id": "kGqZ1sT9a8B3xYw2LmN4oP6rQ7uV0cDe", "sub": "kGqZ1sT9a8B3xYw2LmN4oP6rQ7uV0cDe",
        "email": "ada@example.com", "name": "Ada", "emailVerified": false,
        "iat": now().timestamp(), "exp": now().timestamp() + 900,
        "iss": ORIGIN, "aud": ORIGIN,
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

fn jwks_verify(token: &str, keys: &KeySet, expect: &Expect) -> Result<Identity, ApiError> {
    let token = parse(token)?;
    assert!(matches!(scheme(&token)?, Scheme::KeySet { .. }));
    verify_with_key_set(&token, keys, expect, now())
}

fn key_set() -> KeySet {
    KeySet::parse(&fixtures::jwks(&["ed", "p256", "rsa-rs", "rsa-ps"])).unwrap()
}

#[test]
fn the_header_algorithm_picks_the_verifier_or_is_refused_outright() {
    let scheme_of = |alg: &str, kid: Option<&str>| {
        let mut header = json!({ "alg": alg });
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        let token = format!("{}.{}.c2ln", b64(header.to_string().as_bytes()), b64(b"{}"));
        scheme(&parse(&token).unwrap()).map(|scheme| match scheme {
            Scheme::SharedSecret => "secret".to_owned(),
            Scheme::KeySet { kid } => format!("jwks {kid:?}"),
        })
    };
    assert_eq!(scheme_of("HS256", Some("k")).unwrap(), "secret");
    assert_eq!(scheme_of("EdDSA", Some("k")).unwrap(), r#"jwks Some("k")"#);
    for alg in ["ES256", "RS256", "PS256"] {
        assert_eq!(scheme_of(alg, None).unwrap(), "jwks None");
    }
    for alg in [
        "none", "HS384", "HS512", "ES384", "ES512", "RS384", "PS512", "Ed25519",
    ] {
        assert_eq!(
            reason(scheme_of(alg, Some("k")).map(|_| unreachable!())),
            "the token's algorithm is not accepted",
            "{alg}"
        );
    }
}

#[test]
fn better_auth_tokens_verify_with_each_algorithm() {
    for (kid, alg) in [
        ("ed", "EdDSA"),
        ("p256", "ES256"),
        ("rsa-rs", "RS256"),
        ("rsa-ps", "PS256"),
    ] {
        let token = fixtures::sign(kid, alg, Some(kid), better_auth_claims(json!({})));
        let identity = jwks_verify(&token, &key_set(), &expect_origin()).unwrap();
        assert_eq!(
            identity.user_id, "kGqZ1sT9a8B3xYw2LmN4oP6rQ7uV0cDe",
            "{alg}"
        );
        assert_eq!(identity.email.as_deref(), Some("ada@example.com"));
    }
}

#[test]
fn an_unknown_kid_is_refused() {
    let token = fixtures::sign(
        "ed",
        "EdDSA",
        Some("rotated-away"),
        better_auth_claims(json!({})),
    );
    assert_eq!(
        reason(jwks_verify(&token, &key_set(), &expect_origin())),
        "the token's signing key is not known"
    );
}

#[test]
fn an_hmac_token_keyed_with_a_published_key_is_refused() {
    // The classic confusion attack: HS256 over the public key's bytes, naming its kid.
    let public = fixtures::public_jwk("ed").to_string();
    let forged_key = Hs256Key::new(public.as_bytes());
    let claims = Claims::new(better_auth_claims(json!({})));
    let header = Header::empty().with_key_id("ed").with_token_type("JWT");
    let forged = Hs256.token(&header, &claims, &forged_key).unwrap();
    let token = parse(&forged).unwrap();
    // The header routes it to the shared-secret verifier, which has another key...
    assert_eq!(scheme(&token).unwrap(), Scheme::SharedSecret);
    assert!(verify_hs256(&token, &key(), &Expect::default(), now()).is_err());
    // ...and even handed to the key set it fails on the key's own algorithm.
    assert_eq!(
        reason(verify_with_key_set(
            &token,
            &key_set(),
            &expect_origin(),
            now()
        )),
        "the token's algorithm is not accepted"
    );
}

#[test]
fn the_issuer_must_match_when_expected() {
    let keys = key_set();
    let token = |iss: Value| {
        let claims = better_auth_claims(json!({ "iss": iss }));
        fixtures::sign("ed", "EdDSA", Some("ed"), claims)
    };
    for bad in [
        json!("https://evil.example"),
        json!(null),
        json!([ORIGIN]),
        json!(ORIGIN.to_owned() + "/"),
    ] {
        assert_eq!(
            reason(jwks_verify(&token(bad.clone()), &keys, &expect_origin())),
            "the token's issuer is not accepted",
            "{bad}"
        );
    }
    let no_issuer = Expect {
        issuer: None,
        ..expect_origin()
    };
    assert!(jwks_verify(&token(json!("https://evil.example")), &keys, &no_issuer).is_ok());
}

#[test]
fn the_audience_may_be_a_string_or_an_array_holding_the_expected_value() {
    let keys = key_set();
    let token = |aud: Value| {
        let claims = better_auth_claims(json!({ "aud": aud }));
        fixtures::sign("p256", "ES256", Some("p256"), claims)
    };
    assert!(jwks_verify(
        &token(json!(["https://api.example", ORIGIN])),
        &keys,
        &expect_origin()
    )
    .is_ok());
    for bad in [
        json!("https://api.example"),
        json!(["https://api.example"]),
        json!([]),
        json!(null),
        json!(7),
    ] {
        assert_eq!(
            reason(jwks_verify(&token(bad.clone()), &keys, &expect_origin())),
            "the token's audience is not accepted",
            "{bad}"
        );
    }
}

#[test]
fn hs256_tokens_meet_explicit_expectations_too() {
    let expect = Expect {
        issuer: Some("https://issuer.example".into()),
        audience: None,
    };
    let right = sign(claims_with(json!({ "iss": "https://issuer.example" })));
    let wrong = sign(claims_with(json!({ "iss": "https://other.example" })));
    assert!(verify_hs256(&parse(&right).unwrap(), &key(), &expect, now()).is_ok());
    assert_eq!(
        reason(verify_hs256(
            &parse(&wrong).unwrap(),
            &key(),
            &expect,
            now()
        )),
        "the token's issuer is not accepted"
    );
}

#[test]
fn custom_payloads_follow_the_same_user_rules() {
    let keys = key_set();
    let expect = expect_origin();
    // definePayload without `sub`'s usual companions, getSubject with a prefix.
    let custom = json!({ "sub": "ba:kGqZ1sT9", "role": "member", "email": null, "id": null });
    let token = fixtures::sign("ed", "EdDSA", Some("ed"), better_auth_claims(custom));
    let identity = jwks_verify(&token, &keys, &expect).unwrap();
    assert_eq!(
        (identity.user_id.as_str(), identity.email),
        ("ba:kGqZ1sT9", None)
    );
    let bad = json!({ "sub": "has space" });
    let token = fixtures::sign("ed", "EdDSA", Some("ed"), better_auth_claims(bad));
    assert_eq!(
        reason(jwks_verify(&token, &keys, &expect)),
        "the token's user id is invalid"
    );
    let expired = json!({ "exp": now().timestamp() - 61 });
    let token = fixtures::sign("ed", "EdDSA", Some("ed"), better_auth_claims(expired));
    assert_eq!(
        reason(jwks_verify(&token, &keys, &expect)),
        "the token has expired"
    );
}

// --- explicit typing: API tokens versus Better Auth's own ------------------------------------

/// The payloads Better Auth 1.7 signs with its secret (`signJWT`: HS256, a header of `alg`
/// alone), as its own functions produced them in a run of the installed package.
fn better_auth_internal_payloads() -> Vec<Value> {
    let (iat, exp) = (now().timestamp(), now().timestamp() + 3600);
    let user = "Uh4LtBegKNyaRUVkaYKY27l6dOoGWOgk";
    vec![
        // Email verification (sign-up, sign-in, send-verification-email).
        json!({ "email": "ada@example.com", "userId": user, "iat": iat, "exp": exp }),
        // ...for an address no user holds (signed and discarded, for equal timing).
        json!({ "email": "ada@example.com", "iat": iat, "exp": exp }),
        // Change of email: the legacy flow, the confirmation and the verification.
        json!({ "email": "ada@example.com", "updateTo": "new@example.com", "userId": user, "iat": iat, "exp": exp }),
        json!({ "email": "ada@example.com", "updateTo": "new@example.com", "requestType": "change-email-confirmation", "userId": user, "iat": iat, "exp": exp }),
        json!({ "email": "ada@example.com", "updateTo": "new@example.com", "requestType": "change-email-verification", "userId": user, "iat": iat, "exp": exp }),
        // The session cookie cache with `strategy: "jwt"`.
        json!({
            "session": { "id": "hs6EGd9Xa4Zp8T1qZRBZynPNEqQUmBgV", "userId": user, "token": "A7W0YKQFmSOsrcUixfICPpzVHUxry7In" },
            "user": { "id": user, "email": "ada@example.com", "emailVerified": false, "name": "Ada" },
            "updatedAt": 1_796_185_011_000_i64, "version": "1", "iat": iat, "exp": exp,
        }),
    ]
}

#[test]
fn an_hs256_token_without_typ_jwt_is_refused_whatever_it_claims() {
    let claims = claims_with(json!({})).to_string();
    for header in [
        r#"{"alg":"HS256"}"#,
        r#"{"alg":"HS256","typ":""}"#,
        r#"{"alg":"HS256","typ":"at+jwt"}"#,
        r#"{"alg":"HS256","typ":"JOSE"}"#,
        r#"{"alg":"HS256","typ":"better-auth.session-cache+jwt"}"#,
    ] {
        assert_eq!(
            reason(verify(
                &sign_raw_with_header(header, &claims),
                &key(),
                now()
            )),
            "the token's type is not accepted: an HS256 token needs typ JWT in its header",
            "{header}"
        );
    }
    for header in [
        r#"{"alg":"HS256","typ":"JWT"}"#,
        r#"{"alg":"HS256","typ":"jwt"}"#,
        r#"{"alg":"HS256","typ":"application/jwt"}"#,
        r#"{"alg":"HS256","typ":"Application/JWT"}"#,
    ] {
        assert!(
            verify(&sign_raw_with_header(header, &claims), &key(), now()).is_ok(),
            "{header}"
        );
    }
}

#[test]
fn better_auths_own_hs256_tokens_are_refused_by_their_header_and_again_by_their_claims() {
    for payload in better_auth_internal_payloads() {
        let as_signed = sign_raw_with_header(r#"{"alg":"HS256"}"#, &payload.to_string());
        assert_eq!(
            reason(verify(&as_signed, &key(), now())),
            "the token's type is not accepted: an HS256 token needs typ JWT in its header",
            "{payload}"
        );
        // The second, independent barrier: none names a user where the API looks for one.
        let retyped = sign(payload.clone());
        assert_eq!(
            reason(verify(&retyped, &key(), now())),
            "the token names no user (sub)",
            "{payload}"
        );
    }
    // Better Auth's `signJWT` helper given a subject: a user, but still its header.
    let helper = sign_raw_with_header(
        r#"{"alg":"HS256"}"#,
        &claims_with(json!({ "iat": now().timestamp() })).to_string(),
    );
    assert!(verify(&helper, &key(), now()).is_err());
}

#[test]
fn a_jwks_token_may_omit_typ_or_say_jwt_but_no_other_type() {
    let keys = key_set();
    let with_typ = |typ: &str| {
        let header = Header::empty().with_key_id("ed").with_token_type(typ);
        fixtures::sign_with_header("ed", "EdDSA", header, better_auth_claims(json!({})))
    };
    assert!(jwks_verify(&with_typ("JWT"), &keys, &expect_origin()).is_ok());
    // The `jwt` plugin's session cookie cache, signed with the same keys: it has a sub, and
    // with the iss and aud checks off nothing else would tell it apart.
    let cache = with_typ("better-auth.session-cache+jwt");
    assert_eq!(
        reason(jwks_verify(&cache, &keys, &Expect::default())),
        "the token's type is not accepted"
    );
    for typ in ["at+jwt", "JOSE", ""] {
        assert!(
            jwks_verify(&with_typ(typ), &keys, &Expect::default()).is_err(),
            "{typ}"
        );
    }
}

#[test]
fn the_email_is_verified_only_when_a_verified_claim_is_true() {
    let identity = |extra: Value| verify(&sign(claims_with(extra)), &key(), now()).unwrap();
    let email = "a@example.com";
    for verified in [
        json!({ "email": email, "emailVerified": true }),
        json!({ "email": email, "email_verified": true }),
        json!({ "email": email, "emailVerified": false, "email_verified": true }),
    ] {
        let who = identity(verified.clone());
        assert!(who.email_verified, "{verified}");
        assert_eq!(who.email.as_deref(), Some(email));
    }
    for unverified in [
        json!({ "email": email }),
        json!({ "email": email, "emailVerified": false }),
        json!({ "email": email, "email_verified": "true" }),
        json!({ "email": email, "emailVerified": 1 }),
        json!({ "email": email, "email_verified": null }),
        // A flag without a usable email vouches for nothing.
        json!({ "emailVerified": true }),
        json!({ "email": "", "email_verified": true }),
    ] {
        assert!(!identity(unverified.clone()).email_verified, "{unverified}");
    }
    // Better Auth's jwt plugin payload carries its user's flag.
    let token = fixtures::sign(
        "ed",
        "EdDSA",
        Some("ed"),
        better_auth_claims(json!({ "emailVerified": true })),
    );
    assert!(
        jwks_verify(&token, &key_set(), &expect_origin())
            .unwrap()
            .email_verified
    );
}

// --- header extensions: `crit` and `b64` (RFC 7515 §4.1.11, RFC 7797) -------------------

/// Headers with extension parameters, each of which must be refused with the reason given:
/// `crit` in every form (we understand no extension, and an empty or non-array `crit` is
/// invalid anyway), and `b64` with any value but `true`.
fn refused_extensions() -> Vec<(Value, &'static str)> {
    let crit = "the token's header lists critical extensions (crit), which are not accepted";
    let b64 = "the token's header asks for an unencoded payload (b64), which is not accepted";
    vec![
        (json!({ "crit": ["x-unknown"], "x-unknown": 1 }), crit),
        (json!({ "crit": ["b64"], "b64": false }), crit),
        (json!({ "crit": ["b64"], "b64": true }), crit),
        (json!({ "crit": [] }), crit),
        (json!({ "crit": "x-unknown" }), crit),
        (json!({ "crit": {} }), crit),
        (json!({ "crit": null }), crit),
        (json!({ "b64": false }), b64),
        (json!({ "b64": "false" }), b64),
        (json!({ "b64": 0 }), b64),
        (json!({ "b64": null }), b64),
    ]
}

fn with_fields(mut header: Value, fields: &Value) -> Value {
    for (k, v) in fields.as_object().unwrap() {
        header[k] = v.clone();
    }
    header
}

#[test]
fn hs256_tokens_with_crit_or_b64_false_are_refused_before_the_secret_is_used() {
    for (fields, expected) in refused_extensions() {
        let header = with_fields(json!({ "alg": "HS256", "typ": "JWT" }), &fields);
        // Correctly signed over that header: only the header rule can refuse it.
        let token = token_with_header(header);
        assert_eq!(reason(verify(&token, &key(), now())), expected, "{fields}");
        // Refused before the key matters: the same verdict under a wrong secret.
        let other = Hs256Key::new(b"another-secret-that-is-long-enough-32b");
        assert_eq!(reason(verify(&token, &other, now())), expected, "{fields}");
    }
}

#[test]
fn jwks_tokens_with_crit_or_b64_false_are_refused_before_any_key_lookup() {
    let keys = key_set();
    for (fields, expected) in refused_extensions() {
        for (kid, alg) in [("ed", "EdDSA"), ("p256", "ES256")] {
            let header = Header::new(fields.clone()).with_key_id(kid);
            let token = fixtures::sign_with_header(kid, alg, header, better_auth_claims(json!({})));
            assert_eq!(
                reason(jwks_verify(&token, &keys, &expect_origin())),
                expected,
                "{alg} {fields}"
            );
            // A kid the set does not hold would send the worker to refetch the key set: the
            // header rule answers first.
            let header = Header::new(fields.clone()).with_key_id("not-in-the-set");
            let token = fixtures::sign_with_header(kid, alg, header, better_auth_claims(json!({})));
            assert_eq!(reason(parse(&token).map(|_| unreachable!())), expected);
        }
    }
}

#[test]
fn b64_true_without_crit_is_the_default_encoding_and_verifies_in_both_verifiers() {
    let header = json!({ "alg": "HS256", "typ": "JWT", "b64": true });
    assert!(verify(&token_with_header(header), &key(), now()).is_ok());
    for (kid, alg) in [("ed", "EdDSA"), ("p256", "ES256")] {
        let header = Header::new(json!({ "b64": true })).with_key_id(kid);
        let token = fixtures::sign_with_header(kid, alg, header, better_auth_claims(json!({})));
        assert!(
            jwks_verify(&token, &key_set(), &expect_origin()).is_ok(),
            "{alg}"
        );
    }
    // Other extension parameters that are not marked critical may be ignored (RFC 7515 §4.1).
    let header = json!({ "alg": "HS256", "typ": "JWT", "x-note": "ignored" });
    assert!(verify(&token_with_header(header), &key(), now()).is_ok());
}

// --- verify: the gate's choice of verifier, from the configuration -------------------------

/// A configuration from variables, as the worker reads them.
fn config_of(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|name| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .unwrap()
}

#[test]
fn verify_uses_the_verifier_the_header_names_and_only_if_configured() {
    let secret = std::str::from_utf8(SECRET).unwrap();
    let jwks = String::from_utf8(fixtures::jwks(&["ed"])).unwrap();
    let keys = KeySet::parse(jwks.as_bytes()).unwrap();
    let hs256 = sign(claims_with(json!({ "iss": ORIGIN, "aud": ORIGIN })));
    let eddsa = fixtures::sign("ed", "EdDSA", Some("ed"), better_auth_claims(json!({})));
    let expect = [("JWT_ISSUER", ORIGIN), ("JWT_AUDIENCE", ORIGIN)];
    let both = config_of(&[
        expect[0],
        expect[1],
        ("JWT_SECRET", secret),
        ("BETTER_AUTH_JWKS", &jwks),
    ]);
    let check = |token: &str, config: &Config, keys: Option<&KeySet>| {
        super::verify(&parse(token).unwrap(), config, keys, now())
    };
    assert_eq!(check(&hs256, &both, None).unwrap().user_id, "user-1");
    assert_eq!(
        check(&eddsa, &both, Some(&keys)).unwrap().user_id,
        "kGqZ1sT9a8B3xYw2LmN4oP6rQ7uV0cDe"
    );
    // A key-set token without keys, or under a configuration without a JWKS, is refused; so is
    // an HS256 token under a configuration without a secret, whatever keys come along.
    let not_accepted = "the token's algorithm is not accepted";
    assert_eq!(reason(check(&eddsa, &both, None)), not_accepted);
    let secret_only = config_of(&[("JWT_SECRET", secret)]);
    assert_eq!(
        reason(check(&eddsa, &secret_only, Some(&keys))),
        not_accepted
    );
    let jwks_only = config_of(&[
        expect[0],
        expect[1],
        ("BETTER_AUTH_JWKS", &jwks),
        ("CURSOR_SECRET", "a-cursor-secret-of-32-bytes-or-more"),
    ]);
    assert_eq!(reason(check(&hs256, &jwks_only, Some(&keys))), not_accepted);
    // The configuration's expectations apply: an HS256 token without `iss` is refused where
    // JWT_ISSUER names one.
    let no_issuer = sign(claims_with(json!({ "aud": ORIGIN })));
    assert_eq!(
        reason(check(&no_issuer, &both, None)),
        "the token's issuer is not accepted"
    );
}
