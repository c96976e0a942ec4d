// The request payloads the KMIP client sends, byte for byte against the encodings of an
// independent implementation: PyKMIP 0.10's own payload classes, produced by
// tests/unit/keys/kmip/pykmip_vectors.py (run it again to regenerate). Same inputs here.
#include "s3cryptfs/keys/kmip_messages.h"

#include <gtest/gtest.h>

#include "s3cryptfs/keys/key_protector.h"

namespace s3cryptfs::keys::kmip {
namespace {

Bytes range(uint8_t first, size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<uint8_t>(first + i);
  return out;
}

// The inputs of pykmip_vectors.py.
const Bytes kData = range(0, 32);
const Bytes kIv = range(100, 12);
const Bytes kTag = range(200, 16);
// "s3cryptfs keywrap v1" 0 "kmip" 0 volume id hex 0 key version 1 (u32 LE), as contextAad().
Bytes additionalData() {
  Bytes out;
  for (std::string_view part : {std::string_view("s3cryptfs keywrap v1"), std::string_view("kmip"),
                                std::string_view("00112233445566778899aabbccddeeff")}) {
    out.insert(out.end(), part.begin(), part.end());
    out.push_back(0);
  }
  out.insert(out.end(), {1, 0, 0, 0});
  return out;
}

std::string hexOf(const Item& item) {
  return toHex(encode(item));
}

TEST(KmipMessagesTest, EncryptPayloadMatchesPyKmip) {
  EXPECT_EQ(hexOf(encryptGcmPayload("42", kData, kIv, additionalData())),
            "42007901000000d04200940700000002343200000000000042002b01000000304200110500000004"
            "0000000900000000420028050000000400000003000000004200ce02000000040000001000000000"
            "4200c20800000020000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            "42003d080000000c6465666768696a6b6c6d6e6f000000004200fe080000003f7333637279707466"
            "73206b657977726170207631006b6d69700030303131323233333434353536363737383839396161"
            "62626363646465656666000100000000");
}

TEST(KmipMessagesTest, DecryptPayloadMatchesPyKmip) {
  EXPECT_EQ(hexOf(decryptGcmPayload("42", kData, kIv, additionalData(), kTag)),
            "42007901000000e84200940700000002343200000000000042002b01000000304200110500000004"
            "0000000900000000420028050000000400000003000000004200ce02000000040000001000000000"
            "4200c20800000020000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            "42003d080000000c6465666768696a6b6c6d6e6f000000004200fe080000003f7333637279707466"
            "73206b657977726170207631006b6d69700030303131323233333434353536363737383839396161"
            "626263636464656566660001000000004200ff0800000010c8c9cacbcccdcecfd0d1d2d3d4d5d6d7");
}

TEST(KmipMessagesTest, ActivateAndRevokePayloadsMatchPyKmip) {
  EXPECT_EQ(hexOf(uniqueIdentifierPayload("42")),
            "420079010000001042009407000000023432000000000000");
  EXPECT_EQ(hexOf(revokePayload("42", KmipRevocationReason::kCessationOfOperation)),
            "42007901000000284200940700000002343200000000000042008101000000104200820500000004"
            "0000000600000000");
}

TEST(KmipMessagesTest, CreatePayloadsMatchPyKmip) {
  EXPECT_EQ(hexOf(createAesKeyPayload(KmipVersion{1, 4}, 256)),
            "42007901000000c04200570500000004000000020000000042009101000000a84200080100000030"
            "42000a070000001743727970746f6772617068696320416c676f726974686d0042000b0500000004"
            "0000000300000000420008010000003042000a070000001443727970746f67726170686963204c65"
            "6e6774680000000042000b02000000040000010000000000420008010000003042000a0700000018"
            "43727970746f67726170686963205573616765204d61736b42000b02000000040000000c00000000");
  EXPECT_EQ(hexOf(createAesKeyPayload(KmipVersion{2, 0}, 256)),
            "42007901000000484200570500000004000000020000000042012501000000304200280500000004"
            "000000030000000042002a0200000004000001000000000042002c02000000040000000c00000000");
}

TEST(KmipMessagesTest, RequestMessageCarriesVersionAndOneBatchItem) {
  Item message =
      requestMessage(KmipVersion{2, 0}, operation::kActivate, uniqueIdentifierPayload("42"));
  auto decoded = decode(encode(message));
  ASSERT_TRUE(decoded) << decoded.error().describe();
  EXPECT_EQ(decoded->tag, tag::kRequestMessage);
  const Item* header = decoded->find(tag::kRequestHeader);
  ASSERT_NE(header, nullptr);
  const Item* version = header->find(tag::kProtocolVersion);
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(version->find(tag::kProtocolVersionMajor)->number, 2);
  EXPECT_EQ(version->find(tag::kProtocolVersionMinor)->number, 0);
  EXPECT_EQ(header->find(tag::kBatchCount)->number, 1);
  const Item* batch = decoded->find(tag::kBatchItem);
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->find(tag::kOperation)->number, operation::kActivate);
  ASSERT_NE(batch->find(tag::kRequestPayload), nullptr);
  EXPECT_EQ(batch->find(tag::kRequestPayload)->find(tag::kUniqueIdentifier)->textValue(), "42");
}

TEST(KmipMessagesTest, NamesOfReasonsAndOperations) {
  EXPECT_EQ(resultReasonName(0x01), "Item Not Found");
  EXPECT_EQ(resultReasonName(0x0C), "Permission Denied");
  EXPECT_EQ(resultReasonName(0x100), "General Failure");
  EXPECT_EQ(resultReasonName(0x999), "reason 2457");
  EXPECT_EQ(operationName(operation::kDecrypt), "Decrypt");
}

}  // namespace
}  // namespace s3cryptfs::keys::kmip
