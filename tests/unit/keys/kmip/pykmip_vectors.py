#!/usr/bin/python3
"""Independent encodings of the request payloads the KMIP protector sends, made with PyKMIP 0.10
(Debian python3-pykmip), printed as hex. kmip_messages_test.cpp holds the output and checks that
our encoder produces the same bytes. Run with Debian's python (PyKMIP imports only there):

    /usr/bin/python3 tests/unit/keys/kmip/pykmip_vectors.py
"""
from kmip.core import enums, objects, primitives, utils
from kmip.core.attributes import CryptographicParameters
from kmip.core.messages import payloads

UID = "42"
DATA = bytes(range(32))
IV = bytes(range(100, 112))
AAD = b"s3cryptfs keywrap v1\x00kmip\x00" + b"00112233445566778899aabbccddeeff\x00" + b"\x01\x00\x00\x00"
TAG = bytes(range(200, 216))


def params():
    return CryptographicParameters(
        block_cipher_mode=enums.BlockCipherMode.GCM,
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
        tag_length=16)


def hexof(payload, version=enums.KMIPVersion.KMIP_1_4):
    stream = utils.BytearrayStream()
    payload.write(stream, kmip_version=version)
    return stream.buffer.hex()


print("encrypt", hexof(payloads.EncryptRequestPayload(
    unique_identifier=UID, cryptographic_parameters=params(), data=DATA, iv_counter_nonce=IV,
    auth_additional_data=AAD)))
print("decrypt", hexof(payloads.DecryptRequestPayload(
    unique_identifier=UID, cryptographic_parameters=params(), data=DATA, iv_counter_nonce=IV,
    auth_additional_data=AAD, auth_tag=TAG)))
print("activate", hexof(payloads.ActivateRequestPayload(
    unique_identifier=__import__("kmip.core.attributes", fromlist=["UniqueIdentifier"]).UniqueIdentifier(UID))))
print("revoke", hexof(payloads.RevokeRequestPayload(
    unique_identifier=__import__("kmip.core.attributes", fromlist=["UniqueIdentifier"]).UniqueIdentifier(UID),
    revocation_reason=objects.RevocationReason(code=enums.RevocationReasonCode.CESSATION_OF_OPERATION))))
factory = __import__("kmip.core.factories.attributes", fromlist=["AttributeFactory"]).AttributeFactory()
template = objects.TemplateAttribute(attributes=[
    factory.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES),
    factory.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
    factory.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK,
                             [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT]),
])
print("create14", hexof(payloads.CreateRequestPayload(
    object_type=enums.ObjectType.SYMMETRIC_KEY, template_attribute=template)))
print("create20", hexof(payloads.CreateRequestPayload(
    object_type=enums.ObjectType.SYMMETRIC_KEY, template_attribute=template),
    version=enums.KMIPVersion.KMIP_2_0))
