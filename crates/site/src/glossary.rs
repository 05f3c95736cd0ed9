//! The PSD2 glossary: every abbreviation of the regulation the pages and the
//! docs use, with an anchor (`/glossary#aisp`) other pages link to.

pub struct Term {
    /// The anchor, lower case.
    pub id: &'static str,
    pub short: &'static str,
    pub long: &'static str,
    pub meaning: &'static str,
}

const fn term(
    id: &'static str,
    short: &'static str,
    long: &'static str,
    meaning: &'static str,
) -> Term {
    Term {
        id,
        short,
        long,
        meaning,
    }
}

/// In alphabetical order of the short form.
pub const GLOSSARY: [Term; 43] = [
    term(
        "access-token",
        "Access token",
        "OAuth 2.0 access token",
        "A short-lived credential (five minutes here) a TPP presents with every API call. This bank stores only a keyed hash of it.",
    ),
    term(
        "ais",
        "AIS",
        "Account Information Service",
        "An online service that gathers a customer's account data (balances, transactions) from one or more banks, with the customer's consent.",
    ),
    term(
        "aisp",
        "AISP",
        "Account Information Service Provider",
        "A TPP licensed to provide AIS. It reads accounts only within a consent the customer approved at the bank.",
    ),
    term(
        "api",
        "API",
        "Application Programming Interface",
        "The machine interface a TPP's software calls; here the Berlin Group XS2A API under /v1 and the OAuth 2.0 endpoints under /oauth2.",
    ),
    term(
        "aspsp",
        "ASPSP",
        "Account Servicing Payment Service Provider",
        "The bank that holds the customer's payment account and must open access to it to licensed TPPs under PSD2: the bank that runs this platform.",
    ),
    term(
        "berlin-group",
        "Berlin Group",
        "Berlin Group NextGenPSD2",
        "A European standards initiative whose XS2A framework (version 1.3.12 here) defines the API's operations, messages and error codes.",
    ),
    term(
        "bic",
        "BIC",
        "Business Identifier Code",
        "The SWIFT code that identifies a bank (ISO 9362).",
    ),
    term(
        "consent",
        "Consent",
        "Account-information consent",
        "What a customer allows a TPP to read: which accounts, which data, until when and how often per day. The customer approves it at the bank and can withdraw it there at any time.",
    ),
    term(
        "consumer-key",
        "Consumer key and secret",
        "Application credentials",
        "The pair the Developer Portal issues to a TPP application: the key names the application (the OAuth client_id), the secret proves it. Shown once; the bank keeps only a keyed hash of the secret.",
    ),
    term(
        "decoupled",
        "Decoupled approach",
        "Decoupled SCA approach",
        "The TPP names the customer, who then approves or declines the request in the bank's own app (here: online banking, under Pending approvals) with a second factor, while the TPP asks the bank for the outcome. The customer's credentials never pass through the TPP.",
    ),
    term(
        "dpop",
        "DPoP",
        "Demonstrating Proof of Possession (RFC 9449)",
        "Binds a token to a key the TPP holds: every call carries a fresh signature by that key, so a stolen token alone is useless.",
    ),
    term(
        "dynamic-linking",
        "Dynamic linking",
        "Dynamic linking (RTS Art. 5)",
        "The customer's authentication of a payment is tied to its amount and payee: change either and the authentication no longer counts.",
    ),
    term(
        "eba",
        "EBA",
        "European Banking Authority",
        "The EU agency that wrote the technical standards (RTS) under PSD2.",
    ),
    term(
        "ec",
        "EC",
        "European Commission",
        "The EU's executive body, which adopts the RTS as a delegated regulation.",
    ),
    term(
        "eidas",
        "eIDAS",
        "Electronic Identification, Authentication and Trust Services (Regulation 910/2014)",
        "The EU regulation under which qualified certificates (QWACs) identify TPPs to banks.",
    ),
    term(
        "eu",
        "EU",
        "European Union",
        "The union of member states in which PSD2 applies.",
    ),
    term(
        "fapi",
        "FAPI 2.0",
        "Financial-grade API Security Profile 2.0",
        "The OpenID Foundation's profile of OAuth 2.0 for financial APIs: pushed requests, PKCE, sender-constrained tokens and strong client authentication.",
    ),
    term(
        "fi",
        "FI",
        "Financial Institution",
        "A bank, credit institution or other regulated provider of financial services.",
    ),
    term(
        "iban",
        "IBAN",
        "International Bank Account Number",
        "The account number used across SEPA (ISO 13616), with check digits that catch typing mistakes.",
    ),
    term(
        "ifr",
        "IFR",
        "Interchange Fee Regulation",
        "EU Regulation 2015/751, which caps the fees on card payments.",
    ),
    term(
        "mtls",
        "mTLS",
        "Mutual TLS (RFC 8705)",
        "Both sides of the connection present certificates; tokens can be bound to the TPP's certificate.",
    ),
    term(
        "oauth",
        "OAuth 2.0",
        "The OAuth 2.0 Authorization Framework (RFC 6749)",
        "The industry standard by which a TPP obtains tokens to act for a customer, without ever seeing the customer's credentials.",
    ),
    term(
        "oj",
        "OJ",
        "Official Journal of the European Union",
        "Where EU legislation, PSD2 and the RTS included, is published.",
    ),
    term(
        "par",
        "PAR",
        "Pushed Authorization Request (RFC 9126)",
        "The TPP sends its authorization request to the bank directly, authenticated, and sends the customer's browser with an opaque reference only.",
    ),
    term(
        "piis",
        "PIIS",
        "Payment Instrument Issuing Service",
        "A card-based provider's check whether an amount is available on a customer's account (confirmation of funds).",
    ),
    term(
        "pis",
        "PIS",
        "Payment Initiation Service",
        "A service that initiates a payment from the customer's account at the customer's request.",
    ),
    term(
        "pisp",
        "PISP",
        "Payment Initiation Service Provider",
        "A TPP licensed to provide PIS. The customer authorises each payment at the bank.",
    ),
    term(
        "pkce",
        "PKCE",
        "Proof Key for Code Exchange (RFC 7636)",
        "Ties an authorization code to the client that asked for it, so an intercepted code cannot be redeemed by anyone else.",
    ),
    term(
        "psd",
        "PSD",
        "Payment Services Directive",
        "Directive 2007/64/EC, the EU's first harmonised framework for payment services.",
    ),
    term(
        "psd2",
        "PSD2",
        "Revised Payment Services Directive",
        "Directive (EU) 2015/2366: it opens payment accounts to licensed TPPs and requires strong customer authentication.",
    ),
    term(
        "psp",
        "PSP",
        "Payment Service Provider",
        "Any provider of payment services: banks (ASPSPs) and TPPs alike.",
    ),
    term(
        "psu",
        "PSU",
        "Payment Service User",
        "The bank's customer, who owns the account and decides what a TPP may do with it.",
    ),
    term(
        "qwac",
        "QWAC",
        "Qualified Website Authentication Certificate",
        "An eIDAS certificate that identifies a licensed TPP, with its roles and authorisation number, when it connects.",
    ),
    term(
        "redirect",
        "Redirect approach",
        "Redirect SCA approach",
        "The customer authenticates on the bank's own pages, to which the TPP sends the browser; the TPP never sees the customer's credentials. This bank uses it, with OAuth 2.0.",
    ),
    term(
        "refresh-token",
        "Refresh token",
        "OAuth 2.0 refresh token",
        "A longer-lived credential that renews access tokens within a consent. Each use replaces it; presenting a used one revokes the whole grant.",
    ),
    term(
        "rts",
        "RTS",
        "Regulatory Technical Standards",
        "Commission Delegated Regulation (EU) 2018/389 on strong customer authentication and common and secure communication under PSD2.",
    ),
    term(
        "sandbox",
        "Sandbox",
        "Sandbox environment",
        "A copy of the API with invented customers and money, where TPPs build and test before production access.",
    ),
    term(
        "sca",
        "SCA",
        "Strong Customer Authentication",
        "Authentication with two independent factors of different kinds: something the customer knows (a password), has (a phone app or passkey) or is.",
    ),
    term(
        "sepa",
        "SEPA",
        "Single Euro Payments Area",
        "The area in which euro credit transfers and direct debits work alike across borders.",
    ),
    term(
        "signing-basket",
        "Signing basket",
        "Berlin Group signing basket",
        "Several payments and consents a TPP puts together so the customer approves them on one bank page with one strong customer authentication; here by the Redirect approach, at most 20 at once.",
    ),
    term(
        "tpp",
        "TPP",
        "Third Party Provider",
        "A licensed AISP, PISP or card-based provider that reaches customers' accounts through the bank's API, with their consent.",
    ),
    term(
        "x-request-id",
        "X-Request-ID",
        "Request identifier",
        "A UUID the TPP sends with every XS2A call. Sent again with a creation request, it returns what the first request created instead of creating a second one.",
    ),
    term(
        "xs2a",
        "XS2A",
        "Access to Account",
        "PSD2's requirement that banks give licensed TPPs access to payment accounts, and the API that provides it.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_of_the_regulation_is_explained_once() {
        for wanted in [
            "AISP", "API", "ASPSP", "EBA", "EC", "EU", "FI", "IFR", "OJ", "PISP", "PSD", "PSD2",
            "PSP", "PSU", "RTS", "SCA", "SEPA", "TPP", "XS2A",
        ] {
            let found = GLOSSARY.iter().filter(|t| t.short == wanted).count();
            assert_eq!(found, 1, "{wanted}");
        }
        let mut ids: Vec<_> = GLOSSARY.iter().map(|t| t.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), GLOSSARY.len(), "anchors are unique");
        let shorts: Vec<_> = GLOSSARY.iter().map(|t| t.short.to_lowercase()).collect();
        assert!(shorts.is_sorted(), "alphabetical: {shorts:?}");
    }
}
