#include "s3cryptfs/core/metrics.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace s3cryptfs::metrics {
namespace {

TEST(MetricsRegistryTest, CountersAndGaugesRenderInPrometheusTextFormat) {
  Registry registry;
  registry.counter("t_requests_total", "Requests.", {{"operation", "GetObject"}}).add(3);
  registry.counter("t_requests_total", "ignored", {{"operation", "PutObject"}}).add();
  registry.gauge("t_bytes", "Bytes held.").set(-5);
  registry.gaugeFunction("t_rss_bytes", "RSS.", [] { return 1.5; });
  EXPECT_EQ(registry.render(),
            "# HELP t_bytes Bytes held.\n"
            "# TYPE t_bytes gauge\n"
            "t_bytes -5\n"
            "# HELP t_requests_total Requests.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{operation=\"GetObject\"} 3\n"
            "t_requests_total{operation=\"PutObject\"} 1\n"
            "# HELP t_rss_bytes RSS.\n"
            "# TYPE t_rss_bytes gauge\n"
            "t_rss_bytes 1.5\n");
  EXPECT_EQ(registry.value("t_requests_total", {{"operation", "GetObject"}}), 3);
  EXPECT_EQ(registry.value("t_requests_total", {{"operation", "DeleteObject"}}), 0);
  EXPECT_EQ(registry.value("t_rss_bytes"), 1.5);
}

TEST(MetricsRegistryTest, SameSeriesIsTheSameObjectAndLabelValuesAreEscaped) {
  Registry registry;
  Counter& a = registry.counter("t_total", "x", {{"k", "a\"b\\c\nd"}});
  Counter& b = registry.counter("t_total", "x", {{"k", "a\"b\\c\nd"}});
  EXPECT_EQ(&a, &b);
  a.add(2);
  EXPECT_NE(registry.render().find("t_total{k=\"a\\\"b\\\\c\\nd\"} 2\n"), std::string::npos);
}

TEST(MetricsRegistryTest, ConcurrentAddsAreAllCounted) {
  Registry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i)
        registry.counter("t_total", "x", {{"op", i % 2 ? "a" : "b"}}).add();
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(registry.value("t_total", {{"op", "a"}}) + registry.value("t_total", {{"op", "b"}}),
            40000);
}

TEST(MetricsRegistryTest, ProcessMetricsReadProc) {
  registerProcessMetrics();
  EXPECT_GT(global().value("s3cryptfs_process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(global().value("s3cryptfs_process_resident_memory_peak_bytes"),
            global().value("s3cryptfs_process_resident_memory_bytes") / 2);
  EXPECT_GE(global().value("s3cryptfs_process_threads"), 1);
  EXPECT_GE(global().value("s3cryptfs_process_open_fds"), 3);
  EXPECT_GE(global().value("s3cryptfs_process_cpu_seconds"), 0);
}

}  // namespace
}  // namespace s3cryptfs::metrics
