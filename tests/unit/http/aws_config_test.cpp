#include "s3cryptfs/http/aws_config.h"

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <gtest/gtest.h>

namespace s3cryptfs::http {
namespace {

class AwsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("s3c-aws-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / ".aws");
    env_["HOME"] = dir_.string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& relative, const std::string& text) {
    std::ofstream(dir_ / relative) << text;
  }
  std::filesystem::path dir_;
  Environment env_;
};

TEST_F(AwsConfigTest, NothingConfiguredGivesEmptySettings) {
  auto settings = resolveAwsSettings({}, env_);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->profile, "default");
  EXPECT_FALSE(settings->credentials.complete());
  EXPECT_EQ(settings->region, "");
  EXPECT_EQ(settings->endpoint_url, "");
}

TEST_F(AwsConfigTest, SharedFilesForDefaultAndNamedProfiles) {
  write(".aws/credentials",
        "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = sd\n\n"
        "[work]\n  aws_access_key_id=AKIDWORK ; trailing comment\naws_secret_access_key=sw\n"
        "aws_session_token = tok\n");
  write(".aws/config",
        "[default]\nregion = eu-west-1\n[profile work]\nregion=us-west-2\n"
        "endpoint_url = http://127.0.0.1:9000\ns3 =\n  addressing_style = path\n"
        "[services local]\ns3 =\n  endpoint_url = http://ignored\n");
  auto def = resolveAwsSettings({}, env_);
  ASSERT_TRUE(def.has_value());
  EXPECT_EQ(def->credentials.access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(def->credentials.secret_access_key, "sd");
  EXPECT_EQ(def->region, "eu-west-1");

  env_["AWS_PROFILE"] = "work";
  auto work = resolveAwsSettings({}, env_);
  ASSERT_TRUE(work.has_value());
  EXPECT_EQ(work->profile, "work");
  EXPECT_EQ(work->credentials.access_key_id, "AKIDWORK");
  EXPECT_EQ(work->credentials.session_token, "tok");
  EXPECT_EQ(work->region, "us-west-2");
  EXPECT_EQ(work->endpoint_url, "http://127.0.0.1:9000");
  EXPECT_NE(work->credentials_source.find("credentials file"), std::string::npos);
}

TEST_F(AwsConfigTest, EnvironmentBeatsFilesAndExplicitBeatsEnvironment) {
  write(".aws/credentials", "[default]\naws_access_key_id=FILE\naws_secret_access_key=f\n");
  write(".aws/config", "[default]\nregion=file-region\n");
  env_["AWS_ACCESS_KEY_ID"] = "ENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "e";
  env_["AWS_DEFAULT_REGION"] = "default-region";
  env_["AWS_ENDPOINT_URL"] = "http://general";
  env_["AWS_ENDPOINT_URL_S3"] = "http://s3-specific";
  auto from_env = resolveAwsSettings({}, env_);
  ASSERT_TRUE(from_env.has_value());
  EXPECT_EQ(from_env->credentials.access_key_id, "ENV");
  EXPECT_EQ(from_env->region, "default-region");
  EXPECT_EQ(from_env->endpoint_url, "http://s3-specific");
  EXPECT_EQ(from_env->credentials_source, "environment");

  env_["AWS_REGION"] = "region-wins";
  auto kms = resolveAwsSettings({}, env_, "kms");
  ASSERT_TRUE(kms.has_value());
  EXPECT_EQ(kms->region, "region-wins");
  EXPECT_EQ(kms->endpoint_url, "http://general");

  AwsExplicitSettings explicit_settings;
  explicit_settings.access_key_id = "EXPLICIT";
  explicit_settings.secret_access_key = "x";
  explicit_settings.region = "explicit-region";
  explicit_settings.endpoint_url = "http://explicit";
  auto from_explicit = resolveAwsSettings(explicit_settings, env_);
  ASSERT_TRUE(from_explicit.has_value());
  EXPECT_EQ(from_explicit->credentials.access_key_id, "EXPLICIT");
  EXPECT_EQ(from_explicit->region, "explicit-region");
  EXPECT_EQ(from_explicit->endpoint_url, "http://explicit");
}

TEST_F(AwsConfigTest, FileLocationsFromEnvironment) {
  write("creds", "[p]\naws_access_key_id=K\naws_secret_access_key=S\n");
  write("conf", "[profile p]\nregion=r\n");
  env_["AWS_SHARED_CREDENTIALS_FILE"] = (dir_ / "creds").string();
  env_["AWS_CONFIG_FILE"] = (dir_ / "conf").string();
  AwsExplicitSettings explicit_settings;
  explicit_settings.profile = "p";
  auto settings = resolveAwsSettings(explicit_settings, env_);
  ASSERT_TRUE(settings.has_value());
  EXPECT_EQ(settings->credentials.access_key_id, "K");
  EXPECT_EQ(settings->region, "r");
}

TEST(ParseIni, MalformedLinesWarnWithFileAndLine) {
  std::vector<std::string> warnings;
  IniSections ini = parseIni("[a]\nk = v\nnot a pair\n[broken\nx=1\n", "/tmp/cfg", &warnings);
  EXPECT_EQ(ini["a"]["k"], "v");
  ASSERT_EQ(warnings.size(), 3u);  // line 3, line 4 and the orphan key on line 5
  EXPECT_EQ(warnings[0].rfind("/tmp/cfg:3:", 0), 0u) << warnings[0];
  EXPECT_EQ(warnings[1].rfind("/tmp/cfg:4:", 0), 0u) << warnings[1];
}

TEST(AwsSettings, DescribeHidesSecrets) {
  AwsSettings settings;
  settings.profile = "default";
  settings.credentials = {"AKIDSHOWN", "hidden-secret", "hidden-token"};
  std::string text = settings.describe();
  EXPECT_NE(text.find("AKIDSHOWN"), std::string::npos);
  EXPECT_EQ(text.find("hidden"), std::string::npos);
}

}  // namespace
}  // namespace s3cryptfs::http
