"""Tests' own client for our firmware's OTA authentication (contract A, docs/protocol.md §5).

Written from the contract's text, independently of the emulator and of ruview_cli/ota, so a
test that uploads with it checks the node against the contract, not against a shared helper.
"""

from __future__ import annotations

import hashlib
import hmac

import requests


def contract_mac(key: str, nonce: str, sha256_hex: str, length: int) -> str:
    msg = "ruview-ota-v1\n" + nonce + "\n" + sha256_hex + "\n" + str(length)
    return hmac.new(key.encode("utf-8"), msg.encode("ascii"), hashlib.sha256).hexdigest()


def hmac_authorization(base_url: str, key: str, sha256_hex: str, length: int) -> str:
    """Fetch a nonce from the node and build the Authorization header value."""
    nonce = requests.get(base_url + "/ota/nonce", timeout=10).json()["nonce"]
    return f"RV-HMAC-SHA256 nonce={nonce}, mac={contract_mac(key, nonce, sha256_hex, length)}"


def signed_upload(base_url: str, image: bytes, key: str, timeout: float = 30,
                  **headers: str) -> requests.Response:
    digest = hashlib.sha256(image).hexdigest()
    headers = {"X-Image-SHA256": digest,
               "Authorization": hmac_authorization(base_url, key, digest, len(image)), **headers}
    return requests.post(base_url + "/ota", data=image, headers=headers, timeout=timeout)
