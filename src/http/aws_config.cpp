#include "s3cryptfs/http/aws_config.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "s3cryptfs/core/log.h"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace s3cryptfs::http {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  return text;
}

std::string toLower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> envValue(const Environment& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

// Reads a whole file; nullopt when it does not exist.
Result<std::optional<std::string>> readOptionalFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::optional<std::string>();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error(ErrorKind::kIo, "cannot read AWS file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return std::optional<std::string>(text.str());
}

Result<IniSections> loadIni(const std::string& path) {
  S3C_ASSIGN_OR_RETURN(std::optional<std::string> text, readOptionalFile(path));
  if (!text) return IniSections{};
  std::vector<std::string> warnings;
  IniSections sections = parseIni(*text, path, &warnings);
  for (const auto& warning : warnings)
    log::warn("{}", warning);
  return sections;
}

std::string homeFile(const Environment& env, std::string_view relative) {
  std::string home = envValue(env, "HOME").value_or("");
  return home + "/" + std::string(relative);
}

const std::map<std::string, std::string>* section(const IniSections& ini, const std::string& name) {
  auto it = ini.find(name);
  return it == ini.end() ? nullptr : &it->second;
}

std::optional<std::string> keyOf(const std::map<std::string, std::string>* values,
                                 const std::string& key) {
  if (values == nullptr) return std::nullopt;
  auto it = values->find(key);
  if (it == values->end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::string serviceEnvSuffix(std::string_view service) {
  std::string out;
  for (char c : service) {
    out += (c == '-' || c == ' ') ? '_'
                                  : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

Environment processEnvironment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view line(*entry);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
  }
  return env;
}

IniSections parseIni(std::string_view text, std::string_view origin,
                     std::vector<std::string>* warnings) {
  IniSections sections;
  std::string current;
  bool in_section = false;
  bool nested_allowed = false;  // after "key =" with an empty value: indented sub-keys follow
  size_t line_number = 0;
  size_t pos = 0;
  auto warn = [&](const std::string& what) {
    if (warnings != nullptr) {
      warnings->push_back(std::string(origin) + ":" + std::to_string(line_number) + ": " + what);
    }
  };
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    bool indented = !raw.empty() && (raw.front() == ' ' || raw.front() == '\t');
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      if (line.back() != ']') {
        warn("malformed section header (no closing ']'), line skipped");
        in_section = false;
        continue;
      }
      current = std::string(trim(line.substr(1, line.size() - 2)));
      in_section = true;
      nested_allowed = false;
      sections[current];
      continue;
    }
    if (indented && nested_allowed) continue;  // sub-key of a nested block: not used by us
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      warn("malformed line (expected 'key = value'), skipped");
      continue;
    }
    if (!in_section) {
      warn("key outside of any [section], skipped");
      continue;
    }
    std::string key = toLower(trim(line.substr(0, eq)));
    std::string_view value = trim(line.substr(eq + 1));
    // Inline comments need whitespace before the marker, as in the AWS CLI.
    for (size_t i = 1; i < value.size(); ++i) {
      if ((value[i] == '#' || value[i] == ';') &&
          std::isspace(static_cast<unsigned char>(value[i - 1])) != 0) {
        value = trim(value.substr(0, i));
        break;
      }
    }
    if (key.empty()) {
      warn("empty key, skipped");
      continue;
    }
    nested_allowed = value.empty();
    sections[current][key] = std::string(value);
  }
  return sections;
}

std::string AwsSettings::describe() const {
  std::string out = "profile " + profile + ", " + credentials.describe();
  if (!credentials_source.empty()) out += " from " + credentials_source;
  out += ", region " + (region.empty() ? std::string("(unset)") : region);
  if (!endpoint_url.empty()) out += ", endpoint " + endpoint_url;
  return out;
}

Result<AwsSettings> resolveAwsSettings(const AwsExplicitSettings& explicit_settings,
                                       const Environment& environment, std::string_view service) {
  AwsSettings settings;
  settings.profile =
      explicit_settings.profile.value_or(envValue(environment, "AWS_PROFILE").value_or("default"));

  std::string credentials_path = explicit_settings.credentials_file.value_or(
      envValue(environment, "AWS_SHARED_CREDENTIALS_FILE")
          .value_or(homeFile(environment, ".aws/credentials")));
  std::string config_path = explicit_settings.config_file.value_or(
      envValue(environment, "AWS_CONFIG_FILE").value_or(homeFile(environment, ".aws/config")));

  // The files are read only when something is still missing after explicit values and the
  // environment, so a fully configured daemon does not depend on $HOME.
  std::optional<IniSections> credentials_ini;
  std::optional<IniSections> config_ini;
  auto credentialsSection = [&]() -> Result<const std::map<std::string, std::string>*> {
    if (!credentials_ini) {
      S3C_ASSIGN_OR_RETURN(IniSections ini, loadIni(credentials_path));
      credentials_ini = std::move(ini);
    }
    return section(*credentials_ini, settings.profile);
  };
  auto configSection = [&]() -> Result<const std::map<std::string, std::string>*> {
    if (!config_ini) {
      S3C_ASSIGN_OR_RETURN(IniSections ini, loadIni(config_path));
      config_ini = std::move(ini);
    }
    // The config file names profiles "[profile NAME]", except "[default]".
    if (settings.profile == "default") {
      if (const auto* found = section(*config_ini, "default")) return found;
      return section(*config_ini, "profile default");
    }
    return section(*config_ini, "profile " + settings.profile);
  };

  // Credentials: one source supplies the whole set.
  if (explicit_settings.access_key_id && explicit_settings.secret_access_key) {
    settings.credentials.access_key_id = *explicit_settings.access_key_id;
    settings.credentials.secret_access_key = *explicit_settings.secret_access_key;
    settings.credentials.session_token = explicit_settings.session_token.value_or("");
    settings.credentials_source = "explicit";
  } else if (envValue(environment, "AWS_ACCESS_KEY_ID") &&
             envValue(environment, "AWS_SECRET_ACCESS_KEY")) {
    settings.credentials.access_key_id = *envValue(environment, "AWS_ACCESS_KEY_ID");
    settings.credentials.secret_access_key = *envValue(environment, "AWS_SECRET_ACCESS_KEY");
    settings.credentials.session_token = envValue(environment, "AWS_SESSION_TOKEN").value_or("");
    settings.credentials_source = "environment";
  } else {
    S3C_ASSIGN_OR_RETURN(const auto* creds, credentialsSection());
    S3C_ASSIGN_OR_RETURN(const auto* config, configSection());
    for (auto [values, source] : {std::pair{creds, "credentials file " + credentials_path},
                                  std::pair{config, "config file " + config_path}}) {
      auto key_id = keyOf(values, "aws_access_key_id");
      auto secret = keyOf(values, "aws_secret_access_key");
      if (key_id && secret) {
        settings.credentials.access_key_id = *key_id;
        settings.credentials.secret_access_key = *secret;
        settings.credentials.session_token = keyOf(values, "aws_session_token").value_or("");
        settings.credentials_source = source;
        break;
      }
    }
  }

  // Region.
  if (explicit_settings.region) {
    settings.region = *explicit_settings.region;
  } else if (auto env_region = envValue(environment, "AWS_REGION")) {
    settings.region = *env_region;
  } else if (auto env_default = envValue(environment, "AWS_DEFAULT_REGION")) {
    settings.region = *env_default;
  } else {
    S3C_ASSIGN_OR_RETURN(const auto* config, configSection());
    settings.region = keyOf(config, "region").value_or("");
  }

  // Endpoint: the service-specific variable before the general one.
  std::string service_variable = "AWS_ENDPOINT_URL_" + serviceEnvSuffix(service);
  if (explicit_settings.endpoint_url) {
    settings.endpoint_url = *explicit_settings.endpoint_url;
  } else if (auto specific = envValue(environment, service_variable)) {
    settings.endpoint_url = *specific;
  } else if (auto general = envValue(environment, "AWS_ENDPOINT_URL")) {
    settings.endpoint_url = *general;
  } else {
    S3C_ASSIGN_OR_RETURN(const auto* config, configSection());
    settings.endpoint_url = keyOf(config, "endpoint_url").value_or("");
  }
  return settings;
}

}  // namespace s3cryptfs::http
