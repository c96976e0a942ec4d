#!/usr/bin/env python3
"""Independent check of FORMAT.md against the v1 fixtures, written from the document alone with
the Python `cryptography` package (not our C++ code): derives the subkeys, opens every golden
object, the attribute block and the names, and verifies the descriptor MAC.
Run: python3 tests/golden/v1/crosscheck.py  (exit status 0 when everything matches)."""
import base64, hashlib, hmac, os, struct, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes

HERE = os.path.dirname(os.path.abspath(__file__))
vec = dict(l.strip().split("=", 1) for l in open(os.path.join(HERE, "vectors.txt")) if "=" in l and not l.startswith("#"))

def hkdf(ikm, salt, info, n):
    return HKDF(hashes.SHA256(), n, salt or None, info.encode()).derive(ikm)

vk = bytes(range(32))
keys = {
    "content_key": hkdf(vk, b"", "s3cryptfs v1 content", 32),
    "name_key": hkdf(vk, b"", "s3cryptfs v1 names aes-256-siv", 64),
    "metadata_key": hkdf(vk, b"", "s3cryptfs v1 attributes", 32),
    "descriptor_mac_key": hkdf(vk, b"", "s3cryptfs v1 descriptor mac", 32),
    "key_archive_key": hkdf(vk, b"", "s3cryptfs v1 key archive", 32),
}
for k, v in keys.items():
    assert vec[k] == v.hex(), k

def plaintext(n):
    return bytes((i * 31 + 7) & 0xFF for i in range(n))

def open_object(obj):
    hdr = obj[:64]
    assert hdr[:4] == b"s3cf" and struct.unpack("<H", hdr[4:6])[0] == 1 and hdr[6] == 1 and hdr[7] == 0
    chunk, version = struct.unpack("<II", hdr[8:16])
    file_id, commitment = hdr[16:32], hdr[32:64]
    fk = hkdf(keys["content_key"], file_id, "s3cryptfs v1 file key", 32)
    assert hkdf(fk, b"", "s3cryptfs v1 key commitment", 32) == commitment
    body, out, i = obj[64:], b"", 0
    n = max(1, -(-(len(body)) // (chunk + 28)))
    while body:
        c, body = body[: chunk + 28], body[chunk + 28 :]
        aad = hdr + struct.pack("<QB", i, 1 if i == n - 1 else 0)
        out += AESGCM(fk).decrypt(c[:12], c[12:], aad)
        i += 1
    return out, file_id, fk, commitment

for size in (0, 1, 65536, 65537, 200000):
    obj = open(os.path.join(HERE, f"object_{size}.bin"), "rb").read()
    plain, file_id, fk, commitment = open_object(obj)
    assert plain == plaintext(size), size
    if size == 1:
        assert vec["file_id"] == file_id.hex() and vec["file_key"] == fk.hex()
        assert vec["key_commitment"] == commitment.hex() and vec["header"] == obj[:64].hex()

def name(parent, n):
    padded = n.encode() + b"\x80"
    padded += b"\0" * (-len(padded) % 16)
    sealed = AESSIV(keys["name_key"]).encrypt(padded, [b"s3cryptfs v1 name", parent.encode()])
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()
assert name("/", "hello.txt") == vec["name_root_hello.txt"]
assert name("/docs", "report.pdf") == vec["name_docs_report.pdf"]

blk = open(os.path.join(HERE, "attributes.bin"), "rb").read()
assert blk[0] == 1 and blk[1] == 1 and struct.unpack("<I", blk[2:6])[0] == 1
bk = hkdf(keys["metadata_key"], blk[6:22], "s3cryptfs v1 attribute block key", 32)
attrs = AESGCM(bk).decrypt(b"\0" * 12, blk[22:], b"s3cryptfs v1 attributes\0" + blk[:22] + b"docs/report.bin")
assert attrs[0] == 1 and attrs[1] == 1

# A tagged attribute sidecar key (FORMAT.md 5.4): SHA-256 of the owner's relative key, ".", tag.
assert vec["sidecar_key_docs_report.bin_0011223344556677"] == (
    ".s3cryptfs.attr/" + hashlib.sha256(b"docs/report.bin").hexdigest() + ".0011223344556677")

desc = open(os.path.join(HERE, "descriptor.bin"), "rb").read()
assert desc[:8] == b"s3cryptv"
assert hmac.compare_digest(hmac.new(keys["descriptor_mac_key"], desc[:-32], hashlib.sha256).digest(), desc[-32:])
print("crosscheck: all v1 fixtures match FORMAT.md")
