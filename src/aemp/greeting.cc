// The greeting lines of an AEMP connection (see sluice/internal/aemp/greeting.hpp).
#include "sluice/internal/aemp/greeting.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace sluice::mp::aemp {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  for (auto part : split(s, ',')) out.emplace_back(part);
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += ',';
    out += parts[i];
  }
  return out;
}

}  // namespace

std::optional<std::string> greeting::key(std::string_view k) const {
  for (const auto& [name, value] : keys) {
    if (name == k) return value;
  }
  return std::nullopt;
}

bool valid_nodeid(std::string_view id) {
  if (id.empty()) return false;
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f || c == ';' || c == '#') return false;
  }
  return true;
}

std::optional<greeting> parse_greeting(std::string_view line, std::string& why) {
  auto f = split(line, ';');
  if (f[0] != "aemp") {
    why = "not an AEMP greeting";
    return std::nullopt;
  }
  if (f.size() < 2 || f[1] != "1") {
    why = "version mismatch";
    return std::nullopt;
  }
  if (f.size() < 5) {
    why = "greeting without node id, auth methods and framings";
    return std::nullopt;
  }
  greeting g;
  g.nodeid = std::string(f[2]);
  if (!valid_nodeid(g.nodeid)) {
    why = "invalid node id in greeting";
    return std::nullopt;
  }
  g.auths = split_list(f[3]);
  g.framings = split_list(f[4]);
  for (std::size_t i = 5; i < f.size(); ++i) {
    auto eq = f[i].find('=');
    if (eq == std::string_view::npos) {
      g.keys.emplace_back(std::string(f[i]), std::string());
    } else {
      g.keys.emplace_back(std::string(f[i].substr(0, eq)), std::string(f[i].substr(eq + 1)));
    }
  }
  return g;
}

std::string format_greeting(const greeting& g) {
  std::string s = "aemp;1;" + g.nodeid + ";" + join(g.auths) + ";" + join(g.framings);
  for (const auto& [k, v] : g.keys) s += ";" + k + "=" + v;
  return s;
}

std::string make_nonce() {
  unsigned char raw[nonce_bytes];
  if (RAND_bytes(raw, static_cast<int>(sizeof raw)) != 1) {
    std::fprintf(stderr, "sluice: RAND_bytes failed: no random source; aborting\n");
    std::abort();
  }
  unsigned char text[4 * ((nonce_bytes + 2) / 3) + 1];
  int n = EVP_EncodeBlock(text, raw, static_cast<int>(sizeof raw));
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(n));
}

std::optional<std::string> line_reader::next(bool& too_long) {
  too_long = false;
  auto lf = buf_.find('\n');
  if (lf == std::string::npos) {
    too_long = buf_.size() > max_handshake_line;
    return std::nullopt;
  }
  if (lf > max_handshake_line) {
    too_long = true;
    return std::nullopt;
  }
  std::string line = buf_.substr(0, lf);
  buf_.erase(0, lf + 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace sluice::mp::aemp
