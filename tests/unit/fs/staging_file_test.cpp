#include "staging_file.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "unit/store/store_test_support.h"

namespace s3cryptfs::fs {
namespace {

JournalRecord sampleRecord() {
  JournalRecord record;
  record.key = "enc/key with spaces\nand newline";
  record.base_etag = "\"abc\"";
  record.size = 123456;
  record.header = Bytes(64, 0x5a);
  record.attributes_text = "AQEAAAAB+/=";
  record.chunks = {0, 1, 2, 3, 7, 9, 10};
  return record;
}

TEST(JournalTest, RoundTripsAndEncodesRuns) {
  JournalRecord record = sampleRecord();
  std::string text = encodeJournal(record);
  EXPECT_NE(text.find("chunks 0-3 7-7 9-10\n"), std::string::npos) << text;
  auto decoded = decodeJournal(text);
  ASSERT_TRUE(decoded) << decoded.error().describe();
  EXPECT_EQ(decoded->key, record.key);
  EXPECT_EQ(decoded->base_etag, record.base_etag);
  EXPECT_EQ(decoded->size, record.size);
  EXPECT_EQ(decoded->header, record.header);
  EXPECT_EQ(decoded->attributes_text, record.attributes_text);
  EXPECT_EQ(decoded->chunks, record.chunks);
  record.base_etag.clear();
  EXPECT_TRUE(decodeJournal(encodeJournal(record))->base_etag.empty());
}

TEST(JournalTest, AnUploadUnderWayRoundTrips) {
  JournalRecord record = sampleRecord();
  record.upload_id = "2~upload id/with+odd chars";
  record.chunks_per_part = 128;
  record.sidecar_tag = "0011223344556677";
  record.parts = {{1, "\"etag-1\"", 8392000}, {2, "etag-2", 8391936}};
  std::string text = encodeJournal(record);
  EXPECT_NE(text.find("upload " + toHex(asBytes(record.upload_id)) + " 128 0011223344556677\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("part 2 " + toHex(asBytes(std::string("etag-2"))) + " 8391936\n"),
            std::string::npos)
      << text;
  auto decoded = decodeJournal(text);
  ASSERT_TRUE(decoded) << decoded.error().describe();
  EXPECT_EQ(decoded->upload_id, record.upload_id);
  EXPECT_EQ(decoded->chunks_per_part, 128u);
  EXPECT_EQ(decoded->sidecar_tag, record.sidecar_tag);
  ASSERT_EQ(decoded->parts.size(), 2u);
  EXPECT_EQ(decoded->parts[0].etag, record.parts[0].etag);
  EXPECT_EQ(decoded->parts[1].part_number, 2u);
  EXPECT_EQ(decoded->parts[1].size, 8391936u);
  // Parts out of order, a bad tag, or parts without an upload: damaged, never half-applied.
  std::string swapped = text;
  auto one = swapped.find("part 1 ");
  auto two = swapped.find("part 2 ");
  std::string line_one = swapped.substr(one, two - one);
  swapped.erase(one, line_one.size());
  swapped.insert(swapped.find("chunks "), line_one);
  EXPECT_FALSE(decodeJournal(swapped));
  std::string bad_tag = text;
  bad_tag.replace(bad_tag.find("0011223344556677"), 16, "00112233445566ZZ");
  EXPECT_FALSE(decodeJournal(bad_tag));
  std::string orphan_parts = encodeJournal(sampleRecord());
  orphan_parts.insert(orphan_parts.find("chunks "), "part 1 6161 5\n");
  EXPECT_FALSE(decodeJournal(orphan_parts));
}

TEST(JournalTest, CutOrDamagedRecordsAreRefused) {
  std::string text = encodeJournal(sampleRecord());
  for (size_t cut : {size_t{0}, size_t{10}, text.size() / 2, text.size() - 5}) {
    auto decoded = decodeJournal(text.substr(0, cut));
    ASSERT_FALSE(decoded) << "cut at " << cut;
    EXPECT_EQ(decoded.error().kind(), ErrorKind::kCorrupt);
  }
  // A shorter record written over a longer one, before the trim: the old tail is ignored.
  auto with_tail = decodeJournal(text + "chunks 99-100\nend\n");
  ASSERT_TRUE(with_tail);
  EXPECT_EQ(with_tail->chunks, sampleRecord().chunks);
  std::string swapped = text;
  swapped.replace(swapped.find("0-3"), 3, "3-0");
  EXPECT_FALSE(decodeJournal(swapped));
  EXPECT_FALSE(decodeJournal("something else\n"));
}

TEST(StagingFileTest, WritesReadsJournalsAndDiscards) {
  std::string dir = store::test::freshFolder();
  auto staging = StagingFile::create(dir);
  ASSERT_TRUE(staging) << staging.error().describe();
  ASSERT_TRUE((*staging)->write(1000, asBytes("sealed")));
  Bytes out(6);
  ASSERT_TRUE((*staging)->read(1000, out));
  EXPECT_EQ(asChars(out), "sealed");
  Bytes past(10);
  EXPECT_EQ((*staging)->read(5000, past).error().kind(), ErrorKind::kCorrupt);
  JournalRecord longer = sampleRecord();
  for (uint64_t c = 20; c < 400; c += 2)
    longer.chunks.push_back(c);
  ASSERT_TRUE((*staging)->writeJournal(longer));
  ASSERT_TRUE((*staging)->writeJournal(sampleRecord()));  // shorter: rewritten in place
  EXPECT_EQ(std::filesystem::file_size((*staging)->journalPath()),
            encodeJournal(sampleRecord()).size());
  auto journals = StagingFile::listJournals(dir);
  ASSERT_EQ(journals.size(), 1u);
  auto adopted = StagingFile::adopt(journals[0]);
  ASSERT_TRUE(adopted);
  EXPECT_EQ((*adopted)->readJournal()->size, 123456u);
  EXPECT_EQ((*adopted)->readJournal()->chunks, sampleRecord().chunks);
  ASSERT_TRUE((*adopted)->read(1000, out));
  (*adopted)->discard();
  EXPECT_TRUE(StagingFile::listJournals(dir).empty());
  EXPECT_TRUE(std::filesystem::is_empty(dir));
  EXPECT_FALSE(StagingFile::create(dir + "/missing"));
  EXPECT_FALSE(StagingFile::create(""));
}

}  // namespace
}  // namespace s3cryptfs::fs
