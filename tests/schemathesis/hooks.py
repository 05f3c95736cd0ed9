"""Schemathesis hooks for the Berlin Group spec (loaded through SCHEMATHESIS_HOOKS).

- The spec declares no OpenAPI links, so the stateful phase could only guess
  them from `Location` headers. `before_load_schema` adds the links a TPP
  follows: a created consent or payment to its reads, status, authorisation
  sub-resources and deletion; an authorisation to its SCA status; an account
  list to each account's details, balances and transactions; a transaction
  page to a transaction's details.
- Spec defect, overridden here: the `Signature` header's example holds a line
  break, which is not a valid HTTP header value, so no client can send it. It
  is dropped; everything else of the spec is used as written.
- Spec defect, overridden here: a payment's information (200 of
  `getPaymentInformation`) is `oneOf` the single, periodic and bulk payment
  bodies, but a standing order's body is also a valid single payment's (the
  schemas allow further properties), so every correct standing-order answer
  would match two of them. The hook makes it `anyOf`, which is what the spec
  means: the answer is one of these shapes.
- With FINTECHAPI_ST_CREATE=1 (the creating run of run.sh), consent and
  payment creations carry valid bodies (`CREATE_BODIES`), so the links start
  from resources that exist: random bodies are all refused, and a stateful
  run over them never gets past the first step.
"""

import copy
import datetime
import itertools
import json
import os
import uuid

import schemathesis

CONSENT = {
    "getConsentInformation": "GetConsent",
    "getConsentStatus": "GetConsentStatus",
    "deleteConsent": "DeleteConsent",
    "startConsentAuthorisation": "StartConsentAuthorisation",
    "getConsentAuthorisation": "ListConsentAuthorisations",
}
PAYMENT = {
    "getPaymentInformation": "GetPayment",
    "getPaymentInitiationStatus": "GetPaymentStatus",
    "cancelPayment": "CancelPayment",
    "startPaymentAuthorisation": "StartPaymentAuthorisation",
    "getPaymentInitiationAuthorisation": "ListPaymentAuthorisations",
    "startPaymentInitiationCancellationAuthorisation": "StartCancellationAuthorisation",
    "getPaymentInitiationCancellationAuthorisationInformation": "ListCancellationAuthorisations",
}
PAYMENT_PATH = {
    "payment-service": "$request.path.payment-service",
    "payment-product": "$request.path.payment-product",
}


def _links():
    """(source operationId, status) -> OpenAPI links."""
    links = {
        ("createConsent", "201"): {
            name: {"operationId": op, "parameters": {"consentId": "$response.body#/consentId"}}
            for op, name in CONSENT.items()
        },
        ("startConsentAuthorisation", "201"): {
            "GetConsentScaStatus": {
                "operationId": "getConsentScaStatus",
                "parameters": {
                    "consentId": "$request.path.consentId",
                    "authorisationId": "$response.body#/authorisationId",
                },
            }
        },
        ("initiatePayment", "201"): {
            name: {
                "operationId": op,
                "parameters": {**PAYMENT_PATH, "paymentId": "$response.body#/paymentId"},
            }
            for op, name in PAYMENT.items()
        },
    }
    for start, status_op in [
        ("startPaymentAuthorisation", "getPaymentInitiationScaStatus"),
        ("startPaymentInitiationCancellationAuthorisation", "getPaymentCancellationScaStatus"),
    ]:
        links[(start, "201")] = {
            "GetScaStatus": {
                "operationId": status_op,
                "parameters": {
                    **PAYMENT_PATH,
                    "paymentId": "$request.path.paymentId",
                    "authorisationId": "$response.body#/authorisationId",
                },
            }
        }
    for listing, key, reads in [
        ("getAccountList", "accounts", ["readAccountDetails", "getBalances", "getTransactionList"]),
        (
            "getCardAccountList",
            "cardAccounts",
            ["readCardAccountDetails", "getCardAccountBalances", "getCardAccountTransactionList"],
        ),
    ]:
        links[(listing, "200")] = {
            op: {"operationId": op, "parameters": {"account-id": f"$response.body#/{key}/0/resourceId"}}
            for op in reads
        }
    links[("getTransactionList", "200")] = {
        "GetTransactionDetails": {
            "operationId": "getTransactionDetails",
            "parameters": {
                "account-id": "$request.path.account-id",
                "transactionId": "$response.body#/transactions/booked/0/transactionId",
            },
        }
    }
    return links


def _deref(raw_schema, node):
    """A local `$ref` followed to its target (the spec uses only local ones)."""
    while isinstance(node, dict) and "$ref" in node:
        target = raw_schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


@schemathesis.hook
def before_load_schema(context, raw_schema):
    signature = raw_schema["components"]["parameters"]["Signature"]
    signature.pop("example", None)
    signature.get("schema", {}).pop("example", None)

    information = raw_schema["components"]["responses"]["OK_200_PaymentInitiationInformation"]
    body = information["content"]["application/json"]["schema"]
    body["anyOf"] = body.pop("oneOf")

    links = _links()
    for methods in raw_schema["paths"].values():
        for operation in methods.values():
            if not isinstance(operation, dict):
                continue
            for (source, status), added in links.items():
                if operation.get("operationId") != source:
                    continue
                # A shared response component gets its own copy, so the links
                # stay on this operation only.
                response = copy.deepcopy(_deref(raw_schema, operation["responses"][status]))
                response.setdefault("links", {}).update(added)
                operation["responses"][status] = response


CREATE_BODIES = {}
ALTERNATE = itertools.cycle([False, True])


def _create_bodies():
    """Valid creation bodies for this bank: the demo PSU's own account as debtor."""
    iban = os.environ["FINTECHAPI_ST_IBAN"]
    payee = {"creditorName": "Schemathesis Payee", "creditorAccount": {"iban": "DE02120300000000202051"}}
    single = {
        "instructedAmount": {"currency": "EUR", "amount": "0.01"},
        "debtorAccount": {"iban": iban},
        **payee,
        "remittanceInformationUnstructured": "stateful run",
    }
    return {
        "consent": {
            "access": {"allPsd2": "allAccounts"},
            "recurringIndicator": True,
            "validUntil": "2099-12-31",
            "frequencyPerDay": 4,
            "combinedServiceIndicator": False,
        },
        "payments": single,
        "periodic-payments": {
            **single,
            "startDate": (datetime.date.today() + datetime.timedelta(days=30)).isoformat(),
            "frequency": "Monthly",
            "executionRule": "following",
        },
        "bulk-payments": {
            "batchBookingPreferred": True,
            "debtorAccount": {"iban": iban},
            "payments": [
                {"instructedAmount": {"currency": "EUR", "amount": "0.01"}, **payee},
                {"instructedAmount": {"currency": "EUR", "amount": "0.02"}, **payee},
            ],
        },
    }


def _creating(context):
    return os.environ.get("FINTECHAPI_ST_CREATE") == "1" and context.operation is not None


@schemathesis.hook("map_case").apply_to(operation_id=["createConsent", "initiatePayment"])
def valid_creation(context, case):
    if not _creating(context):
        return case
    if not CREATE_BODIES:
        CREATE_BODIES.update(_create_bodies())
    if "payment-service" not in (case.path_parameters or {}):
        body = CREATE_BODIES["consent"]
    else:
        service = case.path_parameters["payment-service"]
        case.path_parameters["payment-product"] = "sepa-credit-transfers"
        body = CREATE_BODIES.get(service, CREATE_BODIES["payments"])
    case.body = json.loads(json.dumps(body))
    # Only what a TPP sends to create, a fresh request id; every other one
    # asks for the Redirect approach with an explicit start, so that the
    # authorisation links start an authorisation too.
    case.headers = {"X-Request-ID": str(uuid.uuid4()), "Content-Type": "application/json"}
    if next(ALTERNATE):
        case.headers.update({
            "TPP-Redirect-Preferred": "true",
            "TPP-Redirect-URI": "https://tpp.example/cb",
            "TPP-Explicit-Authorisation-Preferred": "true",
        })
    case.media_type = "application/json"
    return case


@schemathesis.hook("map_case").apply_to(operation_id=["startConsentAuthorisation", "startPaymentAuthorisation"])
def redirect_start(context, case):
    # The approach is chosen at the start: the Redirect one (the Decoupled
    # one needs a PSU's login; the OAuth one starts with PAR).
    if not _creating(context):
        return case
    case.headers = {
        "X-Request-ID": str(uuid.uuid4()),
        "TPP-Redirect-Preferred": "true",
        "TPP-Redirect-URI": "https://tpp.example/cb",
    }
    case.body = None
    return case
