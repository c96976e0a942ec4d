// What an attacker with write access to the bucket can do to an object, and that each is caught
// (FORMAT.md §8). Tiny 16-byte chunks make flipping every bit of a multi-chunk object cheap.
#include <functional>

#include <gtest/gtest.h>

#include "s3cryptfs/format/attributes.h"
#include "s3cryptfs/format/chunk_codec.h"
#include "s3cryptfs/format/name_codec.h"
#include "s3cryptfs/format/volume_descriptor.h"

#include "format_test_support.h"

namespace s3cryptfs::format {
namespace {
using testing::DeterministicRandom;
using testing::testKeys;
using testing::testPlaintext;
using testing::testRing;

constexpr uint32_t kTinyChunk = 16;
constexpr uint64_t kFull = kTinyChunk + kChunkOverhead;  // cipher size of a full chunk

class TamperTest : public ::testing::Test {
 protected:
  // Seals `size` bytes with a tiny chunk size; `seed` picks the file id and nonces.
  Bytes seal(size_t size, const std::string& seed, const FileId* file_id = nullptr) {
    DeterministicRandom random(seed);
    ChunkLayout layout = ChunkLayout::createForTesting(kTinyChunk);
    auto cipher = file_id
                      ? FileCipher::createWithFileId(keys_, crypto::Cipher::kAes256Gcm, layout,
                                                     *file_id, random)
                      : FileCipher::createNew(keys_, crypto::Cipher::kAes256Gcm, layout, random);
    EXPECT_TRUE(cipher);
    auto sealed = sealObjectWith(*cipher, testPlaintext(size));
    EXPECT_TRUE(sealed);
    return *sealed;
  }
  Result<Bytes> open(ByteSpan object) {
    return openObject(ring_, object, ChunkSizePolicy::kAnyForTesting);
  }
  // Chunk i of an object (header excluded), as bytes.
  static Bytes chunk(const Bytes& object, size_t i, size_t size = kFull) {
    auto start = object.begin() + static_cast<std::ptrdiff_t>(kObjectHeaderSize + i * kFull);
    return Bytes(start, start + static_cast<std::ptrdiff_t>(size));
  }
  static Bytes header(const Bytes& object) {
    return Bytes(object.begin(), object.begin() + kObjectHeaderSize);
  }
  static Bytes join(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts)
      out.insert(out.end(), p.begin(), p.end());
    return out;
  }
  void expectCorrupt(const Bytes& object, const std::string& needle) {
    auto r = open(object);
    ASSERT_FALSE(r) << "tampering with \"" << needle << "\" went undetected";
    EXPECT_EQ(r.error().kind(), ErrorKind::kCorrupt) << r.error().describe();
    EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
  }

  VolumeKeys keys_ = testKeys();
  KeyRing ring_ = testRing();
};

// 40 bytes = chunks of 16, 16 and 8: 64 + 44 + 44 + 36 = 188 bytes.
TEST_F(TamperTest, EveryBitFlipIsDetected) {
  Bytes object = seal(40, "flip");
  ASSERT_EQ(object.size(), 188u);
  ASSERT_EQ(*open(object), testPlaintext(40));
  for (size_t bit = 0; bit < object.size() * 8; ++bit) {
    Bytes flipped = object;
    flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto r = open(flipped);
    ASSERT_FALSE(r) << "bit " << bit << " flipped undetected";
    size_t byte = bit / 8;
    // Format version, cipher and flags bytes name a format this build does not read.
    bool unsupported_field = byte >= 4 && byte < 8;
    if (unsupported_field && r.error().kind() == ErrorKind::kUnsupported) continue;
    ASSERT_EQ(r.error().kind(), ErrorKind::kCorrupt)
        << "bit " << bit << ": " << r.error().describe();
    if (byte >= kObjectHeaderSize) {
      size_t index = (byte - kObjectHeaderSize) / kFull;
      ASSERT_NE(r.error().message().find("chunk " + std::to_string(index)), std::string::npos)
          << "bit " << bit << ": " << r.error().message();
    }
  }
}

TEST_F(TamperTest, SwappedChunksAreDetected) {
  Bytes o = seal(48, "swap");
  expectCorrupt(join({header(o), chunk(o, 1), chunk(o, 0), chunk(o, 2)}), "chunk 0");
}

TEST_F(TamperTest, ReorderedChunksAreDetected) {
  Bytes o = seal(64, "reorder");  // four full chunks
  expectCorrupt(join({header(o), chunk(o, 0), chunk(o, 2), chunk(o, 1), chunk(o, 3)}), "chunk 1");
  expectCorrupt(join({header(o), chunk(o, 3), chunk(o, 0), chunk(o, 1), chunk(o, 2)}), "chunk 0");
}

TEST_F(TamperTest, DroppedLastChunkIsTruncation) {
  Bytes o = seal(48, "drop-last");
  expectCorrupt(join({header(o), chunk(o, 0), chunk(o, 1)}),
                "chunk 1 is not the final chunk: the object was truncated");
}

TEST_F(TamperTest, DroppedMiddleChunkIsDetected) {
  Bytes o = seal(48, "drop-middle");
  expectCorrupt(join({header(o), chunk(o, 0), chunk(o, 2)}), "chunk 1");
}

TEST_F(TamperTest, DuplicatedChunkIsDetected) {
  Bytes o = seal(48, "duplicate");
  expectCorrupt(join({header(o), chunk(o, 0), chunk(o, 0), chunk(o, 1), chunk(o, 2)}), "chunk 1");
}

TEST_F(TamperTest, AppendedChunkIsExtension) {
  Bytes o = seal(48, "extend");
  expectCorrupt(join({o, chunk(o, 1)}),
                "chunk 2 is sealed as the final chunk but more data follows it");
  // A chunk of another object of the same size appended: the same verdict.
  Bytes other = seal(48, "extend-other");
  expectCorrupt(join({o, chunk(other, 2)}), "chunk 2 is sealed as the final chunk");
}

TEST_F(TamperTest, TruncationAtEveryChunkBoundaryIsDetected) {
  Bytes o = seal(40, "truncate");
  expectCorrupt(header(o), "shorter than a header and one chunk");
  expectCorrupt(Bytes(o.begin(), o.begin() + kObjectHeaderSize + kFull),
                "chunk 0 is not the final chunk");
  expectCorrupt(Bytes(o.begin(), o.begin() + kObjectHeaderSize + 2 * kFull),
                "chunk 1 is not the final chunk");
  // Cuts inside a chunk give an impossible size or a chunk that does not authenticate.
  for (size_t cut = 0; cut < o.size(); ++cut) {
    auto r = open(ByteSpan(o).first(cut));
    ASSERT_FALSE(r) << cut;
    ASSERT_EQ(r.error().kind(), ErrorKind::kCorrupt) << cut;
  }
}

TEST_F(TamperTest, EmptyFileCannotLoseItsOnlyChunk) {
  Bytes o = seal(0, "empty");
  ASSERT_EQ(o.size(), kObjectHeaderSize + kChunkOverhead);
  EXPECT_EQ(*open(o), Bytes{});
  expectCorrupt(header(o), "shorter than a header");
}

TEST_F(TamperTest, ChunkSplicedFromAnotherFileIsDetected) {
  Bytes a = seal(48, "splice-a");
  Bytes b = seal(48, "splice-b");
  expectCorrupt(join({header(a), chunk(a, 0), chunk(b, 1), chunk(a, 2)}), "chunk 1");
}

TEST_F(TamperTest, HeaderFromAnotherFileIsDetected) {
  Bytes a = seal(48, "header-a");
  Bytes b = seal(48, "header-b");
  expectCorrupt(join({header(b), chunk(a, 0), chunk(a, 1), chunk(a, 2)}), "chunk 0");
}

TEST_F(TamperTest, WrongKeyOrUnknownKeyVersionIsDetected) {
  Bytes o = seal(40, "wrong-key");
  KeyRing other = testRing(1, 33);
  auto r = openObject(other, o, ChunkSizePolicy::kAnyForTesting);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kCorrupt);
  EXPECT_NE(r.error().message().find("key commitment"), std::string::npos);
  auto unknown = openObject(testRing(2), o, ChunkSizePolicy::kAnyForTesting);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message().find("key version 1"), std::string::npos);
}

// A header whose commitment was recomputed for another key but whose chunks were not: the
// AEAD still refuses every chunk.
TEST_F(TamperTest, ForgedCommitmentStillFailsTheChunks) {
  Bytes o = seal(40, "forged");
  auto parsed = decodeObjectHeader(o, ChunkSizePolicy::kAnyForTesting);
  ASSERT_TRUE(parsed);
  VolumeKeys other = testKeys(1, 44);
  ObjectHeader forged = *parsed;
  forged.key_commitment = *keyCommitment(*other.fileKey(forged.file_id));
  Bytes h = encodeObjectHeader(forged);
  Bytes tampered = o;
  std::copy(h.begin(), h.end(), tampered.begin());
  KeyRing ring;
  ASSERT_TRUE(ring.add(other.clone()));
  auto r = openObject(ring, tampered, ChunkSizePolicy::kAnyForTesting);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("chunk 0"), std::string::npos);
}

TEST_F(TamperTest, AttributeBlockMovedToAnotherKeyIsDetected) {
  Attributes a;
  a.mode = 0100600;
  a.content_key_version = 1;
  auto sealed = sealAttributesText(keys_, crypto::Cipher::kAes256Gcm, "x/secret", a);
  ASSERT_TRUE(sealed);
  auto r = openAttributesText(ring_, "x/public", *sealed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kCorrupt);
  EXPECT_NE(r.error().message().find("attribute block"), std::string::npos);
}

class DescriptorTamperTest : public ::testing::Test {
 protected:
  static VolumeDescriptor descriptor() {
    VolumeDescriptor d;
    d.volume_id.fill(0x5a);
    d.created_unix_seconds = 1763880000;
    KeyVersionEntry v1;
    v1.version = 1;
    v1.slots.push_back({"a", "passphrase", {{"n", "131072"}, {"salt", "abc"}}, Bytes(60, 1)});
    v1.slots.push_back({"b", "awskms", {{"key-id", "arn:aws:kms:x"}}, Bytes(80, 2)});
    d.key_versions.push_back(v1);
    return d;
  }
  VolumeKeys keys_ = testKeys();
};

// Every byte edited: the descriptor no longer decodes, or its MAC fails.
TEST_F(DescriptorTamperTest, EveryByteEditIsDetected) {
  Bytes good = *encodeVolumeDescriptor(descriptor(), keys_);
  ASSERT_TRUE(verifyVolumeDescriptor(good, keys_));
  for (size_t i = 0; i < good.size(); ++i) {
    Bytes b = good;
    b[i] ^= 0x01;
    Status s = verifyVolumeDescriptor(b, keys_);
    ASSERT_FALSE(s) << "byte " << i;
  }
}

// Semantic edits re-encoded by someone without the volume key (here: MACed under another key).
TEST_F(DescriptorTamperTest, EachFieldEditedFailsVerification) {
  VolumeKeys attacker = testKeys(1, 66);
  std::vector<std::pair<std::string, std::function<void(VolumeDescriptor&)>>> edits = {
      {"cipher downgrade",
       [](VolumeDescriptor& d) { d.cipher = crypto::Cipher::kChaCha20Poly1305; }},
      {"chunk size", [](VolumeDescriptor& d) { d.chunk_size = 4096; }},
      {"name mode", [](VolumeDescriptor& d) { d.name_mode = NameMode::kPlaintext; }},
      {"volume id", [](VolumeDescriptor& d) { d.volume_id[0] ^= 1; }},
      {"creation time", [](VolumeDescriptor& d) { d.created_unix_seconds += 1; }},
      {"protector swap",
       [](VolumeDescriptor& d) {
         std::swap(d.key_versions[0].slots[0], d.key_versions[0].slots[1]);
       }},
      {"protector param",
       [](VolumeDescriptor& d) { d.key_versions[0].slots[0].params["n"] = "16"; }},
      {"protector type", [](VolumeDescriptor& d) { d.key_versions[0].slots[1].type = "keyfile"; }},
      {"wrapped key", [](VolumeDescriptor& d) { d.key_versions[0].slots[0].wrapped_key[0] ^= 1; }},
      {"protector removed", [](VolumeDescriptor& d) { d.key_versions[0].slots.pop_back(); }},
  };
  for (auto& [what, edit] : edits) {
    VolumeDescriptor d = descriptor();
    edit(d);
    auto forged = encodeVolumeDescriptor(d, attacker);
    ASSERT_TRUE(forged) << what;
    Status s = verifyVolumeDescriptor(*forged, keys_);
    ASSERT_FALSE(s) << what << " went undetected";
    EXPECT_EQ(s.error().kind(), ErrorKind::kCorrupt) << what;
    EXPECT_NE(s.error().message().find("MAC"), std::string::npos) << what;
  }
}

// Decoders see bucket data before anything authenticates it: random bytes and every truncation
// must give an error, never a crash (ASan runs this).
TEST(DecoderRobustnessTest, GarbageAndTruncationsAreErrors) {
  DeterministicRandom random("garbage");
  KeyRing ring = testRing();
  NameCodec names = NameCodec::encrypted(testKeys());
  for (size_t size = 0; size < 400; ++size) {
    Bytes junk(size);
    ASSERT_TRUE(random.fill(junk));
    EXPECT_FALSE(decodeVolumeDescriptor(junk));
    EXPECT_FALSE(decodeAttributes(junk));
    EXPECT_FALSE(openAttributes(ring, "k", junk));
    EXPECT_FALSE(openObject(ring, junk, ChunkSizePolicy::kAnyForTesting));
    std::string text(asChars(junk));
    EXPECT_FALSE(names.decodeName("/", text));
    // Junk behind a valid magic gets further into the parsers.
    Bytes object = junk;
    object.insert(object.begin(), kObjectMagic.begin(), kObjectMagic.end());
    EXPECT_FALSE(openObject(ring, object, ChunkSizePolicy::kAnyForTesting));
    Bytes descriptor = junk;
    descriptor.insert(descriptor.begin(), kDescriptorMagic.begin(), kDescriptorMagic.end());
    EXPECT_FALSE(decodeVolumeDescriptor(descriptor));
  }
  VolumeDescriptor d;
  KeyVersionEntry v1;
  v1.version = 1;
  v1.slots.push_back({"a", "keyfile", {{"x", "y"}}, Bytes(4, 1)});
  d.key_versions.push_back(v1);
  Bytes good = *encodeVolumeDescriptor(d, testKeys());
  for (size_t cut = 0; cut < good.size(); ++cut)
    EXPECT_FALSE(verifyVolumeDescriptor(ByteSpan(good).first(cut), testKeys())) << cut;
}

}  // namespace
}  // namespace s3cryptfs::format
