// The v1 golden fixtures (tests/golden/v1) and the test vectors of docs/FORMAT.md.
// The fixtures were written once, from the fixed key and seeded randomness below; the tests
// check both that they still open and that the same inputs still seal to the same bytes. They
// must never be regenerated for v1: a change that breaks these tests breaks every existing volume.
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "s3cryptfs/format/attributes.h"
#include "s3cryptfs/format/chunk_codec.h"
#include "s3cryptfs/format/name_codec.h"
#include "s3cryptfs/format/volume_descriptor.h"

#include "format_test_support.h"

namespace s3cryptfs::format {
namespace {
using testing::DeterministicRandom;
using testing::hexOf;
using testing::testKeys;
using testing::testPlaintext;
using testing::testRing;

const std::filesystem::path kGoldenDir = std::filesystem::path(S3C_TEST_DATA_DIR) / "golden/v1";
const std::filesystem::path kFormatDoc =
    std::filesystem::path(S3C_TEST_DATA_DIR) / "../docs/FORMAT.md";
constexpr size_t kGoldenSizes[] = {0, 1, 65536, 65537, 200000};

Bytes readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The generator: everything from the fixed volume key and seeded randomness.
Bytes goldenObject(size_t size) {
  DeterministicRandom random("golden-v1-object-" + std::to_string(size));
  return *sealObject(testKeys(), {crypto::Cipher::kAes256Gcm, kDefaultChunkSize},
                     testPlaintext(size), random);
}

Attributes goldenAttributes() {
  Attributes a;
  a.kind = NodeKind::kFile;
  a.mode = 0100640;
  a.uid = 1000;
  a.gid = 1000;
  a.atime_ns = 1763880000000000001;
  a.mtime_ns = 1763880000000000002;
  a.ctime_ns = 1763880000000000003;
  a.size = 200000;
  a.content_key_version = 1;
  a.file_id = decodeObjectHeader(goldenObject(200000))->file_id;
  a.xattrs["user.mime_type"] = toBytes("application/octet-stream");
  return a;
}
constexpr std::string_view kGoldenAttributeKey = "docs/report.bin";

VolumeDescriptor goldenDescriptor() {
  VolumeDescriptor d;
  d.volume_id.fill(0xd5);
  d.created_unix_seconds = 1763880000;
  KeyVersionEntry v1;
  v1.version = 1;
  v1.created_unix_seconds = 1763880000;
  v1.slots.push_back({"main", "keyfile", {{"path-hint", "/etc/s3cryptfs/x.key"}}, Bytes(60, 0xab)});
  d.key_versions.push_back(v1);
  return d;
}

// Vectors: name -> lower-case hex or text, as listed in FORMAT.md §9.
std::map<std::string, std::string> computedVectors() {
  std::map<std::string, std::string> v;
  VolumeKeys keys = testKeys();
  v["volume_key"] = hexOf(keys.volumeKey());
  v["content_key"] = hexOf(keys.contentKey());
  v["name_key"] = hexOf(keys.nameKey());
  v["metadata_key"] = hexOf(keys.metadataKey());
  v["descriptor_mac_key"] = hexOf(keys.descriptorMacKey());
  v["key_archive_key"] = hexOf(keys.keyArchiveKey());
  Bytes one = goldenObject(1);
  ObjectHeader header = *decodeObjectHeader(one);
  v["file_id"] = toHex(header.file_id);
  v["file_key"] = hexOf(*keys.fileKey(header.file_id));
  v["key_commitment"] = toHex(header.key_commitment);
  v["header"] = toHex(ByteSpan(one).first(kObjectHeaderSize));
  v["chunk0_of_1_byte_object"] = toHex(ByteSpan(one).subspan(kObjectHeaderSize));
  NameCodec names = NameCodec::encrypted(keys);
  v["name_root_hello.txt"] = *names.encodeName("/", "hello.txt");
  v["name_docs_report.pdf"] = *names.encodeName("/docs", "report.pdf");
  v["sidecar_key_docs_report.bin_0011223344556677"] =
      attributeSidecarKey("", "docs/report.bin", "0011223344556677");
  return v;
}

std::map<std::string, std::string> storedVectors() {
  std::map<std::string, std::string> v;
  std::ifstream in(kGoldenDir / "vectors.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq != std::string::npos) v[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return v;
}

TEST(GoldenTest, ObjectsOpenToTheirPlaintextAndSealIdentically) {
  KeyRing ring = testRing();
  ChunkLayout layout = *ChunkLayout::create(kDefaultChunkSize);
  for (size_t size : kGoldenSizes) {
    Bytes stored = readFile(kGoldenDir / ("object_" + std::to_string(size) + ".bin"));
    ASSERT_EQ(stored.size(), layout.cipherSize(size)) << size;
    auto opened = openObject(ring, stored);
    ASSERT_TRUE(opened) << size << ": " << opened.error().describe();
    EXPECT_EQ(*opened, testPlaintext(size));
    // The writer is still byte-for-byte the v1 writer.
    EXPECT_EQ(goldenObject(size), stored) << size;
  }
}

TEST(GoldenTest, AttributeBlockOpens) {
  Bytes stored = readFile(kGoldenDir / "attributes.bin");
  auto opened = openAttributes(testRing(), kGoldenAttributeKey, stored);
  ASSERT_TRUE(opened) << opened.error().describe();
  EXPECT_EQ(*opened, goldenAttributes());
  DeterministicRandom random("golden-v1-attributes");
  EXPECT_EQ(*sealAttributes(testKeys(), crypto::Cipher::kAes256Gcm, kGoldenAttributeKey,
                            goldenAttributes(), random),
            stored);
}

TEST(GoldenTest, DescriptorDecodesAndVerifies) {
  Bytes stored = readFile(kGoldenDir / "descriptor.bin");
  auto decoded = decodeVolumeDescriptor(stored);
  ASSERT_TRUE(decoded) << decoded.error().describe();
  EXPECT_EQ(*decoded, goldenDescriptor());
  EXPECT_TRUE(verifyVolumeDescriptor(stored, testKeys()));
  EXPECT_EQ(*encodeVolumeDescriptor(goldenDescriptor(), testKeys()), stored);
}

TEST(GoldenTest, VectorsMatchTheStoredFileAndFormatMd) {
  std::map<std::string, std::string> stored = storedVectors();
  std::map<std::string, std::string> computed = computedVectors();
  ASSERT_EQ(stored.size(), computed.size());
  std::ifstream doc_in(kFormatDoc);
  std::stringstream doc;
  doc << doc_in.rdbuf();
  // FORMAT.md wraps long hex values; compare with whitespace removed.
  std::string flat;
  for (char c : doc.str())
    if (c != ' ' && c != '\n') flat.push_back(c);
  for (const auto& [name, value] : computed) {
    EXPECT_EQ(stored[name], value) << name;
    EXPECT_NE(flat.find(value), std::string::npos) << "FORMAT.md lacks vector " << name;
  }
}

}  // namespace
}  // namespace s3cryptfs::format
