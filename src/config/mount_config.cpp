#include "s3cryptfs/config/mount_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "option_table.h"

namespace s3cryptfs::config {
namespace {

const OptionSpec* findOption(std::string_view name) {
  for (const auto& spec : optionTable()) {
    if (spec.name == name) return &spec;
    if (std::find(spec.aliases.begin(), spec.aliases.end(), name) != spec.aliases.end()) {
      return &spec;
    }
  }
  return nullptr;
}

// Walks nested maps, applying each scalar at its dotted path.
Status applyNode(MountConfig& config, const YAML::Node& node, const std::string& path) {
  if (node.IsMap()) {
    for (const auto& item : node) {
      std::string key = item.first.as<std::string>();
      S3C_RETURN_IF_ERROR(applyNode(config, item.second, path.empty() ? key : path + "." + key));
    }
    return ok();
  }
  if (node.IsNull()) return ok();
  if (node.IsSequence()) {
    const OptionSpec* spec = findOption(path);
    if (spec == nullptr || !spec->is_list) {
      return Error(ErrorKind::kInvalidArgument, "config key " + path + ": expected a value");
    }
    for (const auto& element : node) {
      if (!element.IsScalar()) {
        return Error(ErrorKind::kInvalidArgument,
                     "config key " + path + ": expected a list of values");
      }
      S3C_RETURN_IF_ERROR(spec->set(config, element.Scalar()));
    }
    return ok();
  }
  if (!node.IsScalar()) {
    return Error(ErrorKind::kInvalidArgument, "config key " + path + ": expected a value");
  }
  if (path.find('.') == std::string::npos && path != "source") {
    return Error(ErrorKind::kInvalidArgument, "unknown config key '" + path + "'");
  }
  return applyOption(config, path, node.Scalar());
}

}  // namespace

Result<uint64_t> parseSize(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) {
    return Error(ErrorKind::kInvalidArgument, "not a size: '" + std::string(text) + "'");
  }
  std::string unit(end, text.data() + text.size());
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  uint64_t mult = 1;
  if (unit.empty() || unit == "b") {
    mult = 1;
  } else if (unit == "k" || unit == "kib" || unit == "kb") {
    mult = uint64_t{1} << 10;
  } else if (unit == "m" || unit == "mib" || unit == "mb") {
    mult = uint64_t{1} << 20;
  } else if (unit == "g" || unit == "gib" || unit == "gb") {
    mult = uint64_t{1} << 30;
  } else if (unit == "t" || unit == "tib" || unit == "tb") {
    mult = uint64_t{1} << 40;
  } else {
    return Error(ErrorKind::kInvalidArgument, "unknown size unit in '" + std::string(text) + "'");
  }
  if (value > UINT64_MAX / mult) {
    return Error(ErrorKind::kInvalidArgument, "size too large: '" + std::string(text) + "'");
  }
  return value * mult;
}

Status applyOption(MountConfig& config, std::string_view name, std::string_view value) {
  const OptionSpec* spec = findOption(name);
  if (spec == nullptr) {
    return Error(ErrorKind::kInvalidArgument, "unknown option '" + std::string(name) + "'");
  }
  if (value.empty() && !spec->is_flag) {
    return Error(ErrorKind::kInvalidArgument, "option " + spec->name + " needs a value");
  }
  return spec->set(config, value);
}

Result<MountConfig> parseConfig(std::string_view yaml_text, MountConfig base) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsNull() && !root.IsMap()) {
      return Error(ErrorKind::kInvalidArgument, "config: the top level must be a mapping");
    }
    S3C_RETURN_IF_ERROR(applyNode(base, root, ""));
    return base;
  } catch (const YAML::Exception& e) {
    return Error(ErrorKind::kInvalidArgument, std::string("config: ") + e.what());
  }
}

Result<MountConfig> loadConfigFile(const std::string& path, MountConfig base) {
  std::ifstream in(path);
  if (!in) return Error(ErrorKind::kNotFound, "cannot read config file " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = parseConfig(text.str(), std::move(base));
  if (!parsed) return parsed.error().withContext(path);
  return parsed;
}

std::vector<std::pair<std::string, std::string>> splitMountOptions(std::string_view options) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string current;
  auto finish = [&] {
    if (current.empty()) return;
    auto eq = current.find('=');
    if (eq == std::string::npos) {
      out.emplace_back(current, "");
    } else {
      out.emplace_back(current.substr(0, eq), current.substr(eq + 1));
    }
    current.clear();
  };
  for (size_t i = 0; i < options.size(); ++i) {
    char c = options[i];
    if (c == '\\' && i + 1 < options.size()) {
      current.push_back(options[++i]);
    } else if (c == ',') {
      finish();
    } else {
      current.push_back(c);
    }
  }
  finish();
  return out;
}

Status applyEnvironment(MountConfig& config,
                        const std::map<std::string, std::string>& environment) {
  for (const auto& spec : optionTable()) {
    std::string var = "S3CRYPTFS_";
    for (char c : spec.name) {
      var.push_back(c == '.' ? '_'
                             : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    auto it = environment.find(var);
    if (it == environment.end()) continue;
    auto status = spec.set(config, it->second);
    if (!status) return status.error().withContext("environment variable " + var);
  }
  return ok();
}

}  // namespace s3cryptfs::config
