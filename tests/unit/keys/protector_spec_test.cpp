#include "s3cryptfs/keys/protector_spec.h"

#include <gtest/gtest.h>

namespace s3cryptfs::keys {
namespace {

ProtectorSpec parsed(std::string_view text) {
  auto spec = parseProtectorSpec(text);
  EXPECT_TRUE(spec) << text << ": " << spec.error().describe();
  return spec ? *spec : ProtectorSpec{};
}

void expectInvalid(std::string_view text, std::string_view fragment) {
  auto spec = parseProtectorSpec(text);
  ASSERT_FALSE(spec) << text;
  EXPECT_EQ(spec.error().kind(), ErrorKind::kInvalidArgument) << text;
  EXPECT_NE(spec.error().message().find(fragment), std::string::npos)
      << text << " -> " << spec.error().message();
}

TEST(ProtectorSpecTest, KeyFile) {
  auto spec = parsed("keyfile:/etc/s3cryptfs/x.key");
  EXPECT_EQ(spec.type, "keyfile");
  EXPECT_EQ(spec.options.at("path"), "/etc/s3cryptfs/x.key");
  // The path is taken whole, commas and all.
  EXPECT_EQ(parsed("keyfile:/a,b=c").options.at("path"), "/a,b=c");
  expectInvalid("keyfile", "needs a path");
  expectInvalid("keyfile:", "needs a path");
}

TEST(ProtectorSpecTest, Passphrase) {
  EXPECT_TRUE(parsed("passphrase").options.empty());
  EXPECT_EQ(parsed("passphrase:file=/run/pw").options.at("file"), "/run/pw");
  EXPECT_EQ(parsed("passphrase:env=S3C_PW").options.at("env"), "S3C_PW");
  expectInvalid("passphrase:file=/a,env=B", "not both");
  expectInvalid("passphrase:stdin=1", "unknown option 'stdin'");
  expectInvalid("passphrase:/path", "expected key=value");
}

TEST(ProtectorSpecTest, SecretsOnTheCommandLineAreRefusedWithoutEchoingThem) {
  for (std::string_view text : {"passphrase:passphrase=hunter2", "pkcs11:token=t,key=k,pin=1234"}) {
    auto spec = parseProtectorSpec(text);
    ASSERT_FALSE(spec);
    EXPECT_NE(spec.error().message().find("never accepted on the command line"), std::string::npos);
    EXPECT_EQ(spec.error().message().find("hunter2"), std::string::npos);
    EXPECT_EQ(spec.error().message().find("1234"), std::string::npos);
  }
}

TEST(ProtectorSpecTest, Recovery) {
  auto spec = parsed("recovery:3-of-5");
  EXPECT_EQ(spec.options.at("k"), "3");
  EXPECT_EQ(spec.options.at("n"), "5");
  auto with_file = parsed("recovery:2-of-3,shares-file=/root/shares");
  EXPECT_EQ(with_file.options.at("shares-file"), "/root/shares");
  auto unlock_only = parsed("recovery:shares-file=/root/shares");
  EXPECT_EQ(unlock_only.options.count("k"), 0u);
  EXPECT_TRUE(parsed("recovery").options.empty());
  for (std::string_view bad : {"recovery:3", "recovery:5-of-3", "recovery:0-of-2",
                               "recovery:1-of-256", "recovery:a-of-b", "recovery:3-of-"}) {
    expectInvalid(bad, "K-of-N");
  }
}

TEST(ProtectorSpecTest, Pkcs11) {
  auto spec =
      parsed("pkcs11:module=/usr/lib/softhsm/libsofthsm2.so,token=T1,key=K1,pin-file=/run/pin");
  EXPECT_EQ(spec.type, "pkcs11");
  EXPECT_EQ(spec.options.at("module"), "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(spec.options.at("token"), "T1");
  EXPECT_EQ(spec.options.at("key"), "K1");
  EXPECT_EQ(spec.options.at("pin-file"), "/run/pin");
  EXPECT_EQ(parsed("pkcs11:token=T,key=K,pin-env=PIN,mechanism=aes-key-wrap-pad,create-key=yes")
                .options.at("mechanism"),
            "aes-key-wrap-pad");
  expectInvalid("pkcs11:token=T", "token=LABEL and key=LABEL");
  expectInvalid("pkcs11:token=T,key=K,pin-file=a,pin-env=B", "not both");
  expectInvalid("pkcs11:token=T,key=K,mechanism=des", "mechanism");
  expectInvalid("pkcs11:token=T,key=K,slot=0", "unknown option 'slot'");
  expectInvalid("pkcs11:token=T,token=U,key=K", "given twice");
}

TEST(ProtectorSpecTest, VaultOptions) {
  auto spec = parsed("vault:addr=https://vault:8200,key=s3c,k8s-role=node,namespace=ns,ca=/c");
  EXPECT_EQ(spec.options.at("k8s-role"), "node");
  auto protector = makeProtector(spec);
  ASSERT_TRUE(protector) << protector.error().describe();
  EXPECT_EQ((*protector)->type(), "vault");
  expectInvalid("vault:addr=https://v", "vault needs key=");
  expectInvalid("vault:key=k,token-file=/t,token-env=T", "give one of");
  expectInvalid("vault:key=k,k8s-jwt=/j", "need k8s-role=");
  expectInvalid("vault:key=k,token=s.abc", "use token-file= or token-env=");
  auto echoed = parseProtectorSpec("vault:key=k,token=s.abc");
  ASSERT_FALSE(echoed);
  EXPECT_EQ(echoed.error().message().find("s.abc"), std::string::npos);
}

TEST(ProtectorSpecTest, KmipOptions) {
  auto spec = parsed("kmip:host=kms.example,port=5697,ca=/ca,cert=/c,key=/k,key-id=42,version=2.0");
  EXPECT_EQ(spec.options.at("key-id"), "42");
  auto protector = makeProtector(spec);
  ASSERT_TRUE(protector) << protector.error().describe();
  EXPECT_EQ((*protector)->type(), "kmip");
  expectInvalid("kmip:host=h,ca=/ca,cert=/c", "missing key=");
  expectInvalid("kmip:host=h,ca=/ca,cert=/c,key=/k,port=70000", "port must be");
  expectInvalid("kmip:host=h,ca=/ca,cert=/c,key=/k,version=1.2", "version must be 1.4 or 2.0");
  expectInvalid("kmip:host=h,ca=/ca,cert=/c,key=/k,key-id=1,create-key=yes", "not both");
  expectInvalid("kmip:host=h,ca=/ca,cert=/c,key=/k,password=x", "never accepted");
}

TEST(ProtectorSpecTest, AwsKmsOptions) {
  auto spec = parsed("awskms:key-id=alias/x,region=eu-west-1,profile=p,endpoint=http://h:1,ca=/c");
  EXPECT_EQ(spec.options.at("region"), "eu-west-1");
  EXPECT_EQ(spec.options.at("key-id"), "alias/x");
  auto protector = makeProtector(spec);
  ASSERT_TRUE(protector) << protector.error().describe();
  EXPECT_EQ((*protector)->type(), "awskms");
  expectInvalid("awskms:key=alias/x", "unknown option 'key'");
  expectInvalid("awskms:key-id=k,secret=s", "never accepted on the command line");
}

TEST(ProtectorSpecTest, UnknownTypeListsKnownOnes) {
  expectInvalid("gpg:key=x", "known: keyfile, passphrase, recovery, pkcs11, vault, kmip, awskms");
  expectInvalid("", "unknown protector type");
}

TEST(ProtectorSpecTest, FactoryBuildsImplementedTypes) {
  for (auto [text, type] : std::vector<std::pair<std::string_view, std::string_view>>{
           {"keyfile:/k", "keyfile"},
           {"passphrase:env=X", "passphrase"},
           {"passphrase", "passphrase"},
           {"recovery:2-of-3", "recovery"},
           {"pkcs11:token=T,key=K,pin-env=P", "pkcs11"}}) {
    auto protector = makeProtector(parsed(text));
    ASSERT_TRUE(protector) << text << ": " << protector.error().describe();
    EXPECT_EQ((*protector)->type(), type);
  }
}

}  // namespace
}  // namespace s3cryptfs::keys
