"""Our signatures, checked by the reference implementation (the standardwebhooks package)."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from telerecord.services.webhook_signing import generate_secret, secret_key, sign, signature_headers


def test_secret_is_whsec_and_24_random_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 24
    assert generate_secret() != secret


@pytest.mark.parametrize(
    "body", [b'{"id":"evt_1","type":"recording.started","data":{}}', '{"n":"é☃"}'.encode(), b""]
)
def test_reference_implementation_verifies_our_headers(body: bytes) -> None:
    secret = generate_secret()
    headers = signature_headers(secret, "evt_abc", body)
    assert headers["webhook-id"] == "evt_abc"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["webhook-signature"].startswith("v1,")
    Webhook(secret).verify(body, headers, json_parse=False)


def test_reference_rejects_a_tampered_body_or_another_secret() -> None:
    secret = generate_secret()
    body = b'{"id":"evt_1"}'
    headers = signature_headers(secret, "evt_1", body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"id":"evt_2"}', headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "evt_2"}, json_parse=False)


def test_known_vector_from_the_standard_webhooks_spec() -> None:
    # Example from the Standard Webhooks reference test suite.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


def test_secret_key_rejects_malformed_secrets() -> None:
    for bad in ("abc", "whsec_", "whsec_!!!"):
        with pytest.raises(ValueError):
            secret_key(bad)
