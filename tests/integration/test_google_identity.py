"""Google ID tokens beside API keys (CONTRACT 5.1), on a real server over HTTP, with
tokens signed by a local key whose certificate is served on loopback like Google's."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from quantrun.settings import ApiSettings, Settings
from tests.harness.api import RunningApi, running_api
from tests.harness.oidc import google_id_token, google_signer

AUDIENCE = "https://api.quantrun.example"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningApi, Any]]:
    with google_signer() as (signer, certs_url):
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("google"),
            api=ApiSettings(
                google_audience=AUDIENCE,
                allowed_domains="quant.example",
                allowed_emails="guest@elsewhere.example",
                google_certs_url=certs_url,
            ),
        )
        with running_api(settings, with_worker=False) as api:
            yield api, signer


def _get(api: RunningApi, token: str, path: str = "/v1/keys") -> httpx.Response:
    return httpx.get(f"{api.url}{path}", headers={"Authorization": f"Bearer {token}"})


def test_an_allowed_google_identity_is_a_user_and_others_are_401(
    rig: tuple[RunningApi, Any],
) -> None:
    api, signer = rig
    ok = google_id_token(signer, aud=AUDIENCE, email="Ada@quant.example")
    assert _get(api, ok).status_code == 200
    assert api.container.store.find_user("ada@quant.example") is not None  # the email
    guest = google_id_token(signer, aud=AUDIENCE, email="guest@elsewhere.example")
    assert _get(api, guest).status_code == 200
    now = int(time.time())
    refused = {
        "another domain": google_id_token(signer, aud=AUDIENCE, email="eve@evil.example"),
        "a look-alike domain": google_id_token(signer, aud=AUDIENCE, email="eve@xquant.example"),
        "another audience": google_id_token(signer, aud="https://other", email="a@quant.example"),
        "an unverified email": google_id_token(
            signer, aud=AUDIENCE, email="b@quant.example", email_verified=False
        ),
        "another issuer": google_id_token(
            signer, aud=AUDIENCE, email="c@quant.example", iss="https://evil.example"
        ),
        "an expired token": google_id_token(
            signer, aud=AUDIENCE, email="d@quant.example", iat=now - 7200, exp=now - 3600
        ),
        "a forged signature": ok[:-6] + "AAAAAA",
    }
    answers = {why: _get(api, token).status_code for why, token in refused.items()}
    assert answers == dict.fromkeys(refused, 401)
    assert api.container.store.find_user("eve@evil.example") is None
    # API keys work beside tokens
    from quantrun.app.auth import create_key

    key = create_key(api.container.store, "keyed").key
    assert _get(api, key).status_code == 200


def test_a_google_user_sees_only_their_own_jobs(rig: tuple[RunningApi, Any]) -> None:
    api, signer = rig
    ada = google_id_token(signer, aud=AUDIENCE, email="ada2@quant.example")
    bob = google_id_token(signer, aud=AUDIENCE, email="bob@quant.example")
    job = httpx.post(
        f"{api.url}/v1/jobs",
        headers={"Authorization": f"Bearer {ada}"},
        json={"model": "black_scholes", "params": {"type": "call", "spot": 1, "strike": 1,
              "maturity": 1, "rate": 0, "volatility": 0.2}},
    )  # fmt: skip
    assert job.status_code == 202
    assert _get(api, ada, f"/v1/jobs/{job.json()['id']}").status_code == 200
    assert _get(api, bob, f"/v1/jobs/{job.json()['id']}").status_code == 404


def test_certificates_are_fetched_once_not_per_request(rig: tuple[RunningApi, Any]) -> None:
    api, signer = rig
    before = len(signer.fetches)
    for i in range(5):
        assert _get(
            api, google_id_token(signer, aud=AUDIENCE, email=f"u{i}@quant.example")
        ).is_success
    assert len(signer.fetches) - before == 0 and len(signer.fetches) == 1


def test_google_sign_in_without_an_allow_list_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="QUANTRUN_ALLOWED_EMAILS or QUANTRUN_ALLOWED"):
        ApiSettings(google_audience=AUDIENCE)


def test_unreachable_certificates_are_transient_not_a_refusal() -> None:
    """A network blip must not turn a good token into a 401 (the API answers 503)."""
    from quantrun.adapters.gcp.oidc import GoogleCerts, GoogleIdTokens
    from quantrun.domain.errors import TransientError

    certs = GoogleCerts("http://127.0.0.1:9/certs", timeout=2)
    verifier = GoogleIdTokens(audience=AUDIENCE, certs=certs)
    with pytest.raises(TransientError, match="cannot fetch Google's certificates"):
        verifier.verify("a.b.c")


def test_keys_minted_through_google_end_when_the_email_leaves_the_allow_lists(
    tmp_path: Path,
) -> None:
    """A key made with a Google identity works while its email is allowed; the same
    database served with the email off the lists (a config change and a restart) refuses
    the key, while a key of a user not named by an email keeps working."""
    with google_signer() as (signer, certs_url):

        def settings(domains: str) -> Settings:
            return Settings(
                data_dir=tmp_path,
                api=ApiSettings(
                    google_audience=AUDIENCE,
                    allowed_domains=domains,
                    allowed_emails="guest@elsewhere.example",
                    google_certs_url=certs_url,
                ),
            )

        token = google_id_token(signer, aud=AUDIENCE, email="ada@quant.example")
        with running_api(settings("quant.example"), with_worker=False) as api:
            made = httpx.post(
                f"{api.url}/v1/keys", json={}, headers={"Authorization": f"Bearer {token}"}
            )
            assert made.status_code == 201, made.text
            key = made.json()["key"]
            assert _get(api, key).status_code == 200
            from quantrun.app.auth import create_key

            plain = create_key(api.container.store, "service-account").key
        with running_api(settings("other.example"), with_worker=False) as api:
            assert _get(api, key).status_code == 401
            assert _get(api, plain).status_code == 200
