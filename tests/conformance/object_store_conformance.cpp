#include "conformance/object_store_conformance.h"

#include <algorithm>
#include <atomic>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace s3cryptfs::store::conformance {
namespace {

// Deterministic bytes covering every byte value, different for each seed.
Bytes pattern(size_t size, uint32_t seed) {
  Bytes out(size);
  uint32_t state = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < size; ++i) {
    state = state * 1664525u + 1013904223u;
    out[i] = static_cast<uint8_t>(state >> 24);
  }
  return out;
}

Bytes slice(const Bytes& bytes, size_t offset, size_t length) {
  return Bytes(bytes.begin() + static_cast<ptrdiff_t>(offset),
               bytes.begin() + static_cast<ptrdiff_t>(offset + length));
}

std::string describe(const Error& error) {
  return error.describe();
}

#define S3C_ASSERT_OK(expr)                                                                 \
  do {                                                                                      \
    const auto& s3c_result_ = (expr);                                                       \
    ASSERT_TRUE(s3c_result_.has_value()) << #expr << ": " << describe(s3c_result_.error()); \
  } while (false)

#define S3C_ASSERT_ERROR(expr, expected_kind)                                    \
  do {                                                                           \
    const auto& s3c_result_ = (expr);                                            \
    ASSERT_FALSE(s3c_result_.has_value()) << #expr << " succeeded unexpectedly"; \
    EXPECT_EQ(s3c_result_.error().kind(), expected_kind)                         \
        << #expr << ": " << describe(s3c_result_.error());                       \
  } while (false)

PutOptions withMetadata(Metadata metadata) {
  PutOptions options;
  options.metadata = std::move(metadata);
  return options;
}

PutOptions ifNoneMatch() {
  PutOptions options;
  options.condition.if_none_match = true;
  return options;
}

PutOptions ifMatch(std::string etag) {
  PutOptions options;
  options.condition.if_match = std::move(etag);
  return options;
}

std::vector<std::string> keysOf(const ListPage& page) {
  std::vector<std::string> keys;
  for (const auto& object : page.objects)
    keys.push_back(object.key);
  return keys;
}

TEST_P(ObjectStoreConformance, CapabilitiesMatchWhatTheBackendIsExpectedToHave) {
  Capabilities actual = store().capabilities();
  EXPECT_EQ(actual.conditional_put_if_none_match, expected().conditional_put_if_none_match);
  EXPECT_EQ(actual.conditional_put_if_match, expected().conditional_put_if_match);
  EXPECT_EQ(actual.upload_part_copy, expected().upload_part_copy);
  EXPECT_EQ(actual.list_parts, expected().list_parts);
  EXPECT_EQ(actual.abort_multipart, expected().abort_multipart);
  EXPECT_EQ(actual.copy_onto_itself, expected().copy_onto_itself);
  EXPECT_EQ(actual.list_multipart_uploads, expected().list_multipart_uploads);
  EXPECT_FALSE(store().describe().empty());
}

TEST_P(ObjectStoreConformance, PutGetHeadRoundTripBinaryDataAndMetadata) {
  Bytes body = pattern(70000, 1);
  for (int i = 0; i < 256; ++i)
    body[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  Metadata metadata{{"mode", "0644"}, {"attrs", "QUJD+/=="}, {"empty", ""}};
  auto put = store().put("dir/object.bin", body, withMetadata(metadata));
  S3C_ASSERT_OK(put);
  EXPECT_FALSE(put->etag.empty());
  EXPECT_EQ(put->size, body.size());

  auto head = store().head("dir/object.bin");
  S3C_ASSERT_OK(head);
  EXPECT_EQ(head->key, "dir/object.bin");
  EXPECT_EQ(head->size, body.size());
  EXPECT_EQ(head->etag, put->etag);
  EXPECT_EQ(head->metadata, metadata);
  EXPECT_GT(head->last_modified_unix, 1600000000);

  auto get = store().get("dir/object.bin", std::nullopt);
  S3C_ASSERT_OK(get);
  EXPECT_EQ(get->body, body);
  EXPECT_EQ(get->info.size, body.size());
  EXPECT_EQ(get->info.etag, put->etag);
  EXPECT_EQ(get->info.metadata, metadata);
}

TEST_P(ObjectStoreConformance, EmptyObject) {
  auto put = store().put("empty", {}, {});
  S3C_ASSERT_OK(put);
  auto get = store().get("empty", std::nullopt);
  S3C_ASSERT_OK(get);
  EXPECT_TRUE(get->body.empty());
  EXPECT_EQ(get->info.size, 0u);
  auto head = store().head("empty");
  S3C_ASSERT_OK(head);
  EXPECT_EQ(head->size, 0u);
}

TEST_P(ObjectStoreConformance, ByteRanges) {
  const Bytes body = pattern(10000, 2);
  S3C_ASSERT_OK(store().put("ranged", body, {}));
  struct Case {
    const char* what = "";
    ByteRange range;
    size_t offset = 0;
    size_t length = 0;
  };
  const Case cases[] = {
      {"first byte", {0, 1}, 0, 1},
      {"last byte", {9999, 1}, 9999, 1},
      {"middle", {1234, 4321}, 1234, 4321},
      {"open-ended", {7000, std::nullopt}, 7000, 3000},
      {"whole", {0, 10000}, 0, 10000},
      {"whole, open-ended", {0, std::nullopt}, 0, 10000},
      {"longer than the object", {9000, 5000}, 9000, 1000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto get = store().get("ranged", c.range);
    S3C_ASSERT_OK(get);
    EXPECT_EQ(get->body, slice(body, c.offset, c.length));
    EXPECT_EQ(get->info.size, body.size()) << "info.size is the whole object's size";
  }
  S3C_ASSERT_ERROR(store().get("ranged", ByteRange{10000, 1}), ErrorKind::kInvalidArgument);
  S3C_ASSERT_ERROR(store().get("ranged", ByteRange{20000, std::nullopt}),
                   ErrorKind::kInvalidArgument);
}

TEST_P(ObjectStoreConformance, OverwriteReplacesBodyMetadataAndEtag) {
  auto first = store().put("k", pattern(100, 3), withMetadata({{"v", "1"}}));
  S3C_ASSERT_OK(first);
  auto second = store().put("k", pattern(50, 4), withMetadata({{"w", "2"}}));
  S3C_ASSERT_OK(second);
  EXPECT_NE(first->etag, second->etag);
  auto get = store().get("k", std::nullopt);
  S3C_ASSERT_OK(get);
  EXPECT_EQ(get->body, pattern(50, 4));
  EXPECT_EQ(get->info.etag, second->etag);
  EXPECT_EQ(get->info.metadata, (Metadata{{"w", "2"}}));
}

TEST_P(ObjectStoreConformance, MissingKeyIsNotFound) {
  S3C_ASSERT_ERROR(store().get("missing", std::nullopt), ErrorKind::kNotFound);
  S3C_ASSERT_ERROR(store().get("missing", ByteRange{0, 1}), ErrorKind::kNotFound);
  S3C_ASSERT_ERROR(store().head("missing"), ErrorKind::kNotFound);
  S3C_ASSERT_ERROR(store().head("no/such/dir/key"), ErrorKind::kNotFound);
}

TEST_P(ObjectStoreConformance, RemoveAndRemoveOfMissingKey) {
  S3C_ASSERT_OK(store().put("a/b/c", pattern(10, 5), {}));
  S3C_ASSERT_OK(store().remove("a/b/c"));
  S3C_ASSERT_ERROR(store().head("a/b/c"), ErrorKind::kNotFound);
  S3C_ASSERT_OK(store().remove("a/b/c"));
  S3C_ASSERT_OK(store().remove("never/existed"));
  auto listing = listAll(store(), {});
  S3C_ASSERT_OK(listing);
  EXPECT_TRUE(listing->objects.empty());
  EXPECT_TRUE(listing->common_prefixes.empty());
}

TEST_P(ObjectStoreConformance, RemoveMany) {
  std::vector<std::string> keys;
  for (int i = 0; i < 12; ++i) {
    keys.emplace_back("batch/" + std::to_string(i));
    S3C_ASSERT_OK(store().put(keys.back(), pattern(3, static_cast<uint32_t>(i)), {}));
  }
  S3C_ASSERT_OK(store().put("batch-keep", pattern(3, 99), {}));
  keys.push_back("batch/missing");
  auto failures = store().removeMany(keys);
  S3C_ASSERT_OK(failures);
  EXPECT_TRUE(failures->empty());
  auto listing = listAll(store(), {});
  S3C_ASSERT_OK(listing);
  EXPECT_EQ(keysOf(*listing), std::vector<std::string>{"batch-keep"});
}

TEST_P(ObjectStoreConformance, ListFlatAndWithDelimiter) {
  const std::vector<std::string> keys = {"a",  "a/1",      "a/2/x", "a/2/y",
                                         "a0", "b/deep/z", "b/top", "c"};
  for (const auto& key : keys)
    S3C_ASSERT_OK(store().put(key, pattern(7, 6), {}));

  auto flat = listAll(store(), {});
  S3C_ASSERT_OK(flat);
  EXPECT_EQ(keysOf(*flat), keys);
  EXPECT_TRUE(flat->common_prefixes.empty());
  for (const auto& object : flat->objects) {
    EXPECT_EQ(object.size, 7u);
    EXPECT_FALSE(object.etag.empty());
  }

  ListOptions prefixed;
  prefixed.prefix = "a/";
  auto under_a = listAll(store(), prefixed);
  S3C_ASSERT_OK(under_a);
  EXPECT_EQ(keysOf(*under_a), (std::vector<std::string>{"a/1", "a/2/x", "a/2/y"}));

  ListOptions top;
  top.delimiter = "/";
  auto root = listAll(store(), top);
  S3C_ASSERT_OK(root);
  EXPECT_EQ(keysOf(*root), (std::vector<std::string>{"a", "a0", "c"}));
  EXPECT_EQ(root->common_prefixes, (std::vector<std::string>{"a/", "b/"}));

  ListOptions nested;
  nested.prefix = "a/";
  nested.delimiter = "/";
  auto level = listAll(store(), nested);
  S3C_ASSERT_OK(level);
  EXPECT_EQ(keysOf(*level), std::vector<std::string>{"a/1"});
  EXPECT_EQ(level->common_prefixes, std::vector<std::string>{"a/2/"});

  ListOptions partial;
  partial.prefix = "a/2/";
  partial.delimiter = "/";
  auto leaf = listAll(store(), partial);
  S3C_ASSERT_OK(leaf);
  EXPECT_EQ(keysOf(*leaf), (std::vector<std::string>{"a/2/x", "a/2/y"}));
  EXPECT_TRUE(leaf->common_prefixes.empty());

  ListOptions none;
  none.prefix = "zzz";
  auto empty = listAll(store(), none);
  S3C_ASSERT_OK(empty);
  EXPECT_TRUE(empty->objects.empty());
}

TEST_P(ObjectStoreConformance, PaginationWithSmallPagesIsInOrder) {
  std::vector<std::string> expected_keys;
  for (int i = 0; i < 150; ++i) {
    char key[32];
    std::snprintf(key, sizeof key, "page/%03d", (i * 37) % 150);  // written out of order
    S3C_ASSERT_OK(store().put(key, pattern(1, static_cast<uint32_t>(i)), {}));
    expected_keys.emplace_back(key);
  }
  std::sort(expected_keys.begin(), expected_keys.end());
  ListOptions options;
  options.prefix = "page/";
  options.max_keys = 7;
  std::vector<std::string> seen;
  int pages = 0;
  while (true) {
    auto page = store().list(options);
    S3C_ASSERT_OK(page);
    ++pages;
    EXPECT_LE(page->objects.size(), 7u);
    for (const auto& object : page->objects)
      seen.push_back(object.key);
    if (page->next_continuation_token.empty()) break;
    EXPECT_EQ(page->objects.size(), 7u) << "only the last page may be short";
    options.continuation_token = page->next_continuation_token;
    ASSERT_LT(pages, 100) << "pagination does not end";
  }
  EXPECT_EQ(seen, expected_keys);
  EXPECT_EQ(pages, 22);

  auto all = listAll(store(), ListOptions{"page/", "", "", 7});
  S3C_ASSERT_OK(all);
  EXPECT_EQ(keysOf(*all), expected_keys);
}

TEST_P(ObjectStoreConformance, PaginationCountsCommonPrefixes) {
  for (int d = 0; d < 10; ++d) {
    for (int f = 0; f < 3; ++f) {
      std::string key = "tree/d" + std::to_string(d) + "/f" + std::to_string(f);
      S3C_ASSERT_OK(store().put(key, pattern(1, 1), {}));
    }
    S3C_ASSERT_OK(store().put("tree/k" + std::to_string(d), pattern(1, 1), {}));
  }
  ListOptions options{"tree/", "/", "", 3};
  auto all = listAll(store(), options);
  S3C_ASSERT_OK(all);
  EXPECT_EQ(all->objects.size(), 10u);
  ASSERT_EQ(all->common_prefixes.size(), 10u);
  EXPECT_EQ(all->common_prefixes.front(), "tree/d0/");
  EXPECT_EQ(all->common_prefixes.back(), "tree/d9/");
  std::set<std::string> unique(all->common_prefixes.begin(), all->common_prefixes.end());
  EXPECT_EQ(unique.size(), 10u) << "a common prefix was returned on two pages";
}

TEST_P(ObjectStoreConformance, KeysWithSpecialCharacters) {
  std::vector<std::string> keys = {
      "with space/and more spaces",
      "unicode/\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
      "plus+sign",
      "percent%20not-decoded%",
      "equals=sign&amp=1",
      "tilde~star*bang!quote'paren()",
      "semi;colon:comma,at@dollar$",
      "trailing-slash/",
  };
  if (GetParam().long_components) {
    keys.push_back("long/" + std::string(370, 'n') + "/tail");
    keys.push_back("long-leaf/" + std::string(300, 'L') + "%" + std::string(100, 'M'));
  } else {
    std::cout << "[ SKIPPED  ] keys with components over 255 bytes: backend " << GetParam().name
              << " cannot store them\n";
  }
  if (GetParam().dot_and_empty_components) {
    keys.insert(keys.end(), {"dots/./x", "dots/../y", "dots/...", "empty//component", "/lead"});
  } else {
    std::cout << "[ SKIPPED  ] keys with '.', '..' and empty components: backend "
              << GetParam().name << " normalises them\n";
  }
  std::sort(keys.begin(), keys.end());
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE(keys[i]);
    S3C_ASSERT_OK(store().put(keys[i], pattern(i + 1, static_cast<uint32_t>(i)),
                              withMetadata({{"index", std::to_string(i)}})));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE(keys[i]);
    auto get = store().get(keys[i], std::nullopt);
    S3C_ASSERT_OK(get);
    EXPECT_EQ(get->body, pattern(i + 1, static_cast<uint32_t>(i)));
    EXPECT_EQ(get->info.metadata.at("index"), std::to_string(i));
  }
  auto listing = listAll(store(), {});
  S3C_ASSERT_OK(listing);
  EXPECT_EQ(keysOf(*listing), keys);
  for (const auto& key : keys)
    S3C_ASSERT_OK(store().remove(key));
  auto after = listAll(store(), {});
  S3C_ASSERT_OK(after);
  EXPECT_TRUE(after->objects.empty());
}

TEST_P(ObjectStoreConformance, LongKey) {
  std::string key =
      "k/" + std::string(250, 'a') + "/" + std::string(250, 'b') + "/" + std::string(380, 'c');
  if (!GetParam().long_components) {
    // s3rver keeps objects as files and its process dies on ENAMETOOLONG, so the key cannot
    // even be tried there. Encrypted names of 160 bytes or more exceed 255 (FORMAT.md
    // §5.1), so on s3rver such names are a known gap of the filesystem too.
    GTEST_SKIP() << "backend " << GetParam().name << " cannot store components over 255 bytes";
  }
  S3C_ASSERT_OK(store().put(key, pattern(5, 7), {}));
  auto get = store().get(key, std::nullopt);
  S3C_ASSERT_OK(get);
  EXPECT_EQ(get->body, pattern(5, 7));
  auto listing = listAll(store(), ListOptions{"k/", "", "", 1000});
  S3C_ASSERT_OK(listing);
  EXPECT_EQ(keysOf(*listing), std::vector<std::string>{key});
}

TEST_P(ObjectStoreConformance, CopyKeepsOrReplacesMetadata) {
  const Bytes body = pattern(3000, 8);
  auto source = store().put("src", body, withMetadata({{"a", "1"}}));
  S3C_ASSERT_OK(source);

  auto kept = store().copy("src", "dst/kept", {});
  S3C_ASSERT_OK(kept);
  auto kept_get = store().get("dst/kept", std::nullopt);
  S3C_ASSERT_OK(kept_get);
  EXPECT_EQ(kept_get->body, body);
  EXPECT_EQ(kept_get->info.metadata, (Metadata{{"a", "1"}}));
  EXPECT_EQ(kept_get->info.etag, kept->etag);

  CopyOptions replace;
  replace.replace_metadata = Metadata{{"b", "2"}};
  auto replaced = store().copy("src", "dst/replaced", replace);
  S3C_ASSERT_OK(replaced);
  auto replaced_head = store().head("dst/replaced");
  S3C_ASSERT_OK(replaced_head);
  EXPECT_EQ(replaced_head->metadata, (Metadata{{"b", "2"}}));
  EXPECT_EQ(replaced_head->size, body.size());

  auto source_after = store().head("src");
  S3C_ASSERT_OK(source_after);
  EXPECT_EQ(source_after->metadata, (Metadata{{"a", "1"}}));

  CopyOptions guarded;
  guarded.source_if_match = source->etag;
  S3C_ASSERT_OK(store().copy("src", "dst/guarded", guarded));
  guarded.source_if_match = "0123456789abcdef0123456789abcdef";
  S3C_ASSERT_ERROR(store().copy("src", "dst/guarded2", guarded), ErrorKind::kPreconditionFailed);
  S3C_ASSERT_ERROR(store().copy("missing", "dst/x", {}), ErrorKind::kNotFound);
}

TEST_P(ObjectStoreConformance, CopyOntoItselfWithReplaceMetadata) {
  const Bytes body = pattern(2000, 9);
  S3C_ASSERT_OK(store().put("self", body, withMetadata({{"mode", "0600"}})));
  CopyOptions replace;
  replace.replace_metadata = Metadata{{"mode", "0644"}, {"uid", "1000"}};
  if (!expected().copy_onto_itself) {
    // The caller falls back to copy-to-temporary-and-back; the store must say so, not pretend.
    S3C_ASSERT_ERROR(store().copy("self", "self", replace), ErrorKind::kUnsupported);
    auto head = store().head("self");
    S3C_ASSERT_OK(head);
    EXPECT_EQ(head->metadata, (Metadata{{"mode", "0600"}}));
    return;
  }
  auto copied = store().copy("self", "self", replace);
  S3C_ASSERT_OK(copied);
  auto get = store().get("self", std::nullopt);
  S3C_ASSERT_OK(get);
  EXPECT_EQ(get->body, body);
  EXPECT_EQ(get->info.metadata, (Metadata{{"mode", "0644"}, {"uid", "1000"}}));
}

TEST_P(ObjectStoreConformance, IfNoneMatchCreatesOnlyOnce) {
  if (!expected().conditional_put_if_none_match) {
    // Ignoring the condition would let a writer overwrite silently: refuse instead.
    S3C_ASSERT_ERROR(store().put("once", pattern(10, 10), ifNoneMatch()), ErrorKind::kUnsupported);
    return;
  }
  S3C_ASSERT_OK(store().put("once", pattern(10, 10), ifNoneMatch()));
  S3C_ASSERT_ERROR(store().put("once", pattern(10, 11), ifNoneMatch()),
                   ErrorKind::kPreconditionFailed);
  auto get = store().get("once", std::nullopt);
  S3C_ASSERT_OK(get);
  EXPECT_EQ(get->body, pattern(10, 10));
}

TEST_P(ObjectStoreConformance, IfNoneMatchCreateRaceHasOneWinner) {
  constexpr int kThreads = 8;
  if (!expected().conditional_put_if_none_match) {
    // Without server support every racer is refused; none may win silently.
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        auto put =
            store().put("race/unsupported", pattern(100, static_cast<uint32_t>(t)), ifNoneMatch());
        if (!put && put.error().kind() == ErrorKind::kUnsupported) ++refused;
      });
    }
    for (auto& thread : threads)
      thread.join();
    EXPECT_EQ(refused.load(), kThreads);
    S3C_ASSERT_ERROR(store().head("race/unsupported"), ErrorKind::kNotFound);
    return;
  }
  for (int round = 0; round < 3; ++round) {
    std::string key = "race/" + std::to_string(round);
    std::atomic<int> winners{0};
    std::atomic<int> losers{0};
    std::atomic<int> others{0};
    std::atomic<int> winner_id{-1};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load())
          std::this_thread::yield();
        auto put = store().put(key, pattern(1000, static_cast<uint32_t>(t)), ifNoneMatch());
        if (put) {
          ++winners;
          winner_id = t;
        } else if (put.error().kind() == ErrorKind::kPreconditionFailed) {
          ++losers;
        } else {
          ++others;
        }
      });
    }
    go = true;
    for (auto& thread : threads)
      thread.join();
    EXPECT_EQ(winners.load(), 1);
    EXPECT_EQ(losers.load(), kThreads - 1);
    EXPECT_EQ(others.load(), 0);
    auto get = store().get(key, std::nullopt);
    S3C_ASSERT_OK(get);
    EXPECT_EQ(get->body, pattern(1000, static_cast<uint32_t>(winner_id.load())));
  }
}

TEST_P(ObjectStoreConformance, IfMatch) {
  auto first = store().put("guarded", pattern(10, 12), {});
  S3C_ASSERT_OK(first);
  if (!expected().conditional_put_if_match) {
    // Ignoring the condition would let a writer overwrite silently: refuse instead.
    S3C_ASSERT_ERROR(store().put("guarded", pattern(10, 13), ifMatch(first->etag)),
                     ErrorKind::kUnsupported);
    return;
  }
  auto second = store().put("guarded", pattern(10, 13), ifMatch(first->etag));
  S3C_ASSERT_OK(second);
  S3C_ASSERT_ERROR(store().put("guarded", pattern(10, 14), ifMatch(first->etag)),
                   ErrorKind::kPreconditionFailed);
  // Quoted ETags are the same ETag.
  S3C_ASSERT_OK(store().put("guarded", pattern(10, 15), ifMatch("\"" + second->etag + "\"")));
  auto get = store().get("guarded", std::nullopt);
  S3C_ASSERT_OK(get);
  EXPECT_EQ(get->body, pattern(10, 15));
  // On a missing key S3 answers 404 or 412 depending on the server; both say "lost the race".
  auto missing = store().put("guarded-missing", pattern(1, 1), ifMatch(first->etag));
  ASSERT_FALSE(missing.has_value());
  EXPECT_TRUE(missing.error().kind() == ErrorKind::kPreconditionFailed ||
              missing.error().kind() == ErrorKind::kNotFound)
      << describe(missing.error());
}

TEST_P(ObjectStoreConformance, MultipartWithThreePartsAndPartCopy) {
  const Bytes source = pattern(6 * kMiB, 20);
  S3C_ASSERT_OK(store().put("mp/source", source, {}));
  const Bytes part1 = pattern(kPartSize, 21);
  const Bytes part3 = pattern(1000, 23);

  auto upload = store().createMultipart("mp/target", withMetadata({{"kind", "big"}}));
  S3C_ASSERT_OK(upload);
  if (expected().list_multipart_uploads) {
    auto uploads = store().listMultipartUploads("mp/");
    S3C_ASSERT_OK(uploads);
    ASSERT_EQ(uploads->size(), 1u);
    EXPECT_EQ(uploads->front().key, "mp/target");
    EXPECT_EQ(uploads->front().upload_id, *upload);
  }

  auto p1 = store().uploadPart("mp/target", *upload, 1, part1);
  S3C_ASSERT_OK(p1);
  EXPECT_EQ(p1->part_number, 1u);
  EXPECT_FALSE(p1->etag.empty());

  Bytes part2;
  Result<PartInfo> p2 = Error(ErrorKind::kInternal, "unset");
  if (expected().upload_part_copy) {
    p2 = store().uploadPartCopy("mp/target", *upload, 2, "mp/source", ByteRange{kMiB, kPartSize});
    S3C_ASSERT_OK(p2);
    part2 = slice(source, kMiB, kPartSize);
  } else {
    S3C_ASSERT_ERROR(
        store().uploadPartCopy("mp/target", *upload, 2, "mp/source", ByteRange{kMiB, kPartSize}),
        ErrorKind::kUnsupported);
    part2 = pattern(kPartSize, 22);
    p2 = store().uploadPart("mp/target", *upload, 2, part2);
    S3C_ASSERT_OK(p2);
  }
  auto p3 = store().uploadPart("mp/target", *upload, 3, part3);
  S3C_ASSERT_OK(p3);

  // A wrong part ETag fails the completion and leaves the upload usable.
  if (GetParam().strict_multipart) {
    PartInfo wrong = *p3;
    wrong.etag = "00000000000000000000000000000000";
    auto bad = store().completeMultipart("mp/target", *upload, {*p1, *p2, wrong}, {});
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().kind(), ErrorKind::kInvalidArgument) << describe(bad.error());
    S3C_ASSERT_ERROR(store().head("mp/target"), ErrorKind::kNotFound);
  } else {
    std::cout << "[ SKIPPED  ] wrong part ETag: backend " << GetParam().name
              << " is not strict about multipart uploads\n";
  }

  auto done = store().completeMultipart("mp/target", *upload, {*p1, *p2, *p3}, {});
  S3C_ASSERT_OK(done);
  if (GetParam().strict_multipart) {
    EXPECT_TRUE(done->etag.size() > 2 && done->etag.substr(done->etag.size() - 2) == "-3")
        << done->etag;
  }

  auto head = store().head("mp/target");
  S3C_ASSERT_OK(head);
  EXPECT_EQ(head->size, 2 * kPartSize + part3.size());
  EXPECT_EQ(head->etag, done->etag);
  EXPECT_EQ(head->metadata, (Metadata{{"kind", "big"}}));
  auto get = store().get("mp/target", std::nullopt);
  S3C_ASSERT_OK(get);
  Bytes expected_body = part1;
  expected_body.insert(expected_body.end(), part2.begin(), part2.end());
  expected_body.insert(expected_body.end(), part3.begin(), part3.end());
  EXPECT_TRUE(get->body == expected_body) << "multipart body differs";
  auto boundary = store().get("mp/target", ByteRange{kPartSize - 10, 20});
  S3C_ASSERT_OK(boundary);
  EXPECT_EQ(boundary->body, slice(expected_body, kPartSize - 10, 20));

  if (expected().list_multipart_uploads) {
    auto after = store().listMultipartUploads("mp/");
    S3C_ASSERT_OK(after);
    EXPECT_TRUE(after->empty());
  }
  if (GetParam().strict_multipart) {
    S3C_ASSERT_ERROR(store().uploadPart("mp/target", *upload, 4, part3), ErrorKind::kNotFound);
  }
}

TEST_P(ObjectStoreConformance, MultipartSinglePartAndWrongEtag) {
  auto upload = store().createMultipart("single", {});
  S3C_ASSERT_OK(upload);
  auto part = store().uploadPart("single", *upload, 1, pattern(100, 30));
  S3C_ASSERT_OK(part);
  if (GetParam().strict_multipart) {
    PartInfo wrong = *part;
    wrong.etag = "ffffffffffffffffffffffffffffffff";
    auto bad = store().completeMultipart("single", *upload, {wrong}, {});
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().kind(), ErrorKind::kInvalidArgument) << describe(bad.error());
  } else {
    std::cout << "[ SKIPPED  ] wrong part ETag: backend " << GetParam().name
              << " is not strict about multipart uploads\n";
  }
  // Re-uploading a part replaces it.
  auto again = store().uploadPart("single", *upload, 1, pattern(200, 31));
  S3C_ASSERT_OK(again);
  auto done = store().completeMultipart("single", *upload, {*again}, {});
  S3C_ASSERT_OK(done);
  if (GetParam().strict_multipart) {
    EXPECT_TRUE(done->etag.size() > 2 && done->etag.substr(done->etag.size() - 2) == "-1")
        << done->etag;
  }
  auto get = store().get("single", std::nullopt);
  S3C_ASSERT_OK(get);
  EXPECT_EQ(get->body, pattern(200, 31));
}

TEST_P(ObjectStoreConformance, MultipartAbortAndListUploads) {
  auto one = store().createMultipart("up/one", {});
  S3C_ASSERT_OK(one);
  auto two = store().createMultipart("up/two", {});
  S3C_ASSERT_OK(two);
  auto other = store().createMultipart("elsewhere", {});
  S3C_ASSERT_OK(other);
  S3C_ASSERT_OK(store().uploadPart("up/one", *one, 1, pattern(10, 40)));

  if (!expected().list_multipart_uploads) {
    S3C_ASSERT_ERROR(store().listMultipartUploads("up/"), ErrorKind::kUnsupported);
  } else {
    auto listed = store().listMultipartUploads("up/");
    S3C_ASSERT_OK(listed);
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_EQ((*listed)[0].key, "up/one");
    EXPECT_EQ((*listed)[0].upload_id, *one);
    EXPECT_EQ((*listed)[1].key, "up/two");
    auto everything = store().listMultipartUploads("");
    S3C_ASSERT_OK(everything);
    EXPECT_EQ(everything->size(), 3u);
  }

  if (!expected().abort_multipart) {
    S3C_ASSERT_ERROR(store().abortMultipart("up/one", *one), ErrorKind::kUnsupported);
    return;
  }
  S3C_ASSERT_OK(store().abortMultipart("up/one", *one));
  S3C_ASSERT_OK(store().abortMultipart("up/two", *two));
  S3C_ASSERT_OK(store().abortMultipart("elsewhere", *other));
  if (expected().list_multipart_uploads) {
    auto after = store().listMultipartUploads("");
    S3C_ASSERT_OK(after);
    EXPECT_TRUE(after->empty());
  }
  S3C_ASSERT_ERROR(store().uploadPart("up/one", *one, 2, pattern(10, 41)), ErrorKind::kNotFound);
  S3C_ASSERT_ERROR(store().completeMultipart("up/one", *one, {}, {}), ErrorKind::kNotFound);
  S3C_ASSERT_ERROR(store().head("up/one"), ErrorKind::kNotFound);
}

TEST_P(ObjectStoreConformance, ConcurrentPutsAndGets) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  std::atomic<int> failures{0};
  std::atomic<int> shared_put_failures{0};
  std::mutex first_failure_mutex;
  std::string first_failure;
  auto fail = [&](const std::string& what) {
    ++failures;
    std::lock_guard lock(first_failure_mutex);
    if (first_failure.empty()) first_failure = what;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        auto seed = static_cast<uint32_t>(t * 1000 + r);
        std::string own = "conc/" + std::to_string(t) + "/" + std::to_string(r % 4);
        if (auto put = store().put(own, pattern(4096, seed), {}); !put) {
          fail("put " + own + ": " + put.error().describe());
        }
        auto back = store().get(own, std::nullopt);
        if (!back) {
          fail("get " + own + ": " + back.error().describe());
        } else if (back->body != pattern(4096, seed)) {
          fail("get " + own + ": other bytes than written");
        }
        // Everyone overwrites and reads one shared key: a read sees one whole version.
        auto shared_put = store().put("conc/shared", pattern(8192, static_cast<uint32_t>(t)), {});
        if (!GetParam().atomic_overwrites) {
          // s3rver writes an object's files in place, not atomically: two PUTs of one key at
          // the same moment may fail (seen once in CI, the cause not captured
          // then). Counted and reported, not failed: the fs never races itself on one
          // key and the retrying store absorbs a transient failure.
          if (!shared_put) ++shared_put_failures;
          continue;
        }
        if (!shared_put) fail("put conc/shared: " + shared_put.error().describe());
        auto shared = store().get("conc/shared", std::nullopt);
        if (!shared) {
          fail("get conc/shared: " + shared.error().describe());
          continue;
        }
        bool whole = false;
        for (int w = 0; w < kThreads; ++w) {
          if (shared->body == pattern(8192, static_cast<uint32_t>(w))) whole = true;
        }
        if (!whole) fail("get conc/shared: not one whole version");
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  if (!GetParam().atomic_overwrites) {
    std::cout << "[ SKIPPED  ] reads racing overwrites: backend " << GetParam().name
              << " does not overwrite atomically (" << shared_put_failures.load() << " of "
              << kThreads * kRounds << " racing PUTs of one key failed)\n";
  }
  EXPECT_EQ(failures.load(), 0) << "first: " << first_failure;
  auto listing = listAll(store(), ListOptions{"conc/", "", "", 1000});
  S3C_ASSERT_OK(listing);
  EXPECT_EQ(listing->objects.size(), static_cast<size_t>(kThreads * 4 + 1));
}

}  // namespace
}  // namespace s3cryptfs::store::conformance
