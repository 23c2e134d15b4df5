// AnyEvent::MP's configuration file and profiles (see sluice/internal/aemp/rcfile.hpp).
//
// Relaxed parsing works by rewriting the text into strict JSON that keeps every newline where
// it was (a comment or an end comma becomes spaces, a literal TAB in a string becomes "\t"),
// so nlohmann-json's error offsets map back to the file's line numbers.
#include "sluice/internal/aemp/rcfile.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <system_error>
#include <vector>

namespace sluice::mp::aemp {
namespace {

using json = nlohmann::json;
constexpr auto npos = std::string::npos;

// ---- relaxed text -> strict text ----

// The 1-based line of byte `pos` of `text`.
std::size_t line_at(std::string_view text, std::size_t pos) {
  pos = std::min(pos, text.size());
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + pos, '\n'));
}

std::string at_line(std::string_view text, std::size_t pos, const std::string& what) {
  return "line " + std::to_string(line_at(text, pos)) + ": " + what;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

struct relaxed_scan {
  std::string out;
  std::size_t pending_comma = npos;  // index in `out` of a comma that may be an end comma
  char last = 0;                     // last significant byte outside strings
  int depth = 0;                     // open arrays and objects
};

// A JSON::XS comment: from '#' to the first CR, LF or NUL, each byte copied as a space.
std::size_t skip_comment(std::string_view in, std::size_t i, std::string& out) {
  for (; i < in.size() && in[i] != '\n' && in[i] != '\r' && in[i] != '\0'; ++i) out += ' ';
  return i;
}

// Copies the string opening at in[i]; returns the index after its closing quote.
std::size_t copy_string(std::string_view in, std::size_t i, std::string& out) {
  out += in[i++];
  while (i < in.size()) {
    char c = in[i++];
    if (c == '\t') {
      out += "\\t";
      continue;
    }
    out += c;
    if (c == '"') break;
    if (c == '\\' && i < in.size()) out += in[i++];
  }
  return i;
}

// A significant byte outside strings: blanks a comma directly followed by ']' or '}' when it
// follows a value (JSON::XS accepts `[1,]` but not `[,]`, `[1,,]` or `{"a":,}`), and
// counts nesting against JSON::XS's max_depth.
bool note_significant(relaxed_scan& s, char c, std::string& why) {
  if (s.pending_comma != npos && (c == ']' || c == '}')) s.out[s.pending_comma] = ' ';
  s.pending_comma = npos;
  if (c == ',' && s.last != 0 && std::string_view("[{,:").find(s.last) == npos) s.pending_comma = s.out.size();
  if ((c == '[' || c == '{') && ++s.depth > rc_max_depth) {
    why = at_line(s.out, s.out.size(), "nested deeper than " + std::to_string(rc_max_depth) + " levels");
    return false;
  }
  if (c == ']' || c == '}') --s.depth;
  s.last = c;
  return true;
}

std::optional<std::string> to_strict_json(std::string_view in, std::string& why) {
  relaxed_scan s;
  s.out.reserve(in.size() + 16);
  for (std::size_t i = 0; i < in.size();) {
    char c = in[i];
    if (c == '#') {
      i = skip_comment(in, i, s.out);
    } else if (is_ws(c)) {
      s.out += c;
      ++i;
    } else if (!note_significant(s, c, why)) {
      return std::nullopt;
    } else if (c == '"') {
      i = copy_string(in, i, s.out);
    } else {
      s.out += c;
      ++i;
    }
  }
  return std::move(s.out);
}

// "line N: <nlohmann's reason>", without nlohmann's own prefix and position.
std::string parse_failure(std::string_view text, const json::parse_error& e) {
  std::string detail = e.what();
  auto column = detail.find("column ");
  auto colon = column == npos ? npos : detail.find(": ", column);
  if (colon != npos) detail.erase(0, colon + 2);
  return at_line(text, e.byte == 0 ? 0 : e.byte - 1, detail);
}

std::size_t first_significant(std::string_view text) {
  auto it = std::find_if_not(text.begin(), text.end(), is_ws);
  return static_cast<std::size_t>(it - text.begin());
}

// ---- files ----

// The whole file, or nullopt with `missing` set (ENOENT) or `why` set (any other failure).
std::optional<std::string> read_all(const std::string& path, bool& missing, std::string& why) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) {
    missing = errno == ENOENT;
    why = path + ": " + std::generic_category().message(errno);
    return std::nullopt;
  }
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f.get())) > 0;) text.append(buf, n);
  if (std::ferror(f.get())) {
    why = path + ": " + std::generic_category().message(errno);
    return std::nullopt;
  }
  return text;
}

// ---- profiles ----

// Copies every key of `top` over `base` (Perl's `%h = (%base, %top)`).
void overlay(json& base, const json& top) {
  for (const auto& [key, value] : top.items()) base[key] = value;
}

// Takes `key` out of `kv` and returns its Perl truth (find_profile's `delete $kv{...}`).
bool take_flag(json& kv, const char* key) {
  auto it = kv.find(key);
  if (it == kv.end()) return false;
  bool on = perl_true(*it);
  kv.erase(it);
  return on;
}

std::string article_type(const json& v) {
  std::string t = v.type_name();
  return (std::string_view("aeiou").find(t[0]) == npos ? "a " : "an ") + t;
}

// The "profile" table: nullptr when absent or null (Perl autovivifies an empty one).
bool profile_table(const json& rc, const json*& table, std::string& why) {
  auto it = rc.find("profile");
  table = it == rc.end() || it->is_null() ? nullptr : &*it;
  if (table && !table->is_object()) {
    why = "\"profile\" must be an object of profiles, not " + article_type(*table);
    return false;
  }
  return true;
}

// The name in `entry`'s "parent", nullopt (with `why` empty) when it has none.
std::optional<std::string> parent_of(const json& entry, const std::string& name, std::string& why) {
  auto it = entry.find("parent");
  if (it == entry.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return it->dump();
  why = "profile \"" + name + "\": \"parent\" must be a profile name, not " + article_type(*it);
  return std::nullopt;
}

std::string loop_message(const std::vector<std::string>& path, const std::string& again) {
  std::string chain;
  for (const auto& name : path) chain += name + " -> ";
  return "profile parent chain loops: " + chain + again;
}

// The entries of `name` and its ancestors, nearest first. A name without an entry ends the
// chain and contributes nothing, as in Perl.
std::optional<std::vector<const json*>> profile_chain(const json& rc, const std::string& name, std::string& why) {
  const json* table = nullptr;
  if (!profile_table(rc, table, why)) return std::nullopt;
  std::vector<const json*> chain;
  std::vector<std::string> path;
  for (std::optional<std::string> next = name; next && table;) {
    if (std::find(path.begin(), path.end(), *next) != path.end()) {
      why = loop_message(path, *next);
      return std::nullopt;
    }
    path.push_back(*next);
    auto it = table->find(*next);
    if (it == table->end()) break;
    if (!it->is_object()) {
      why = "profile \"" + *next + "\" must be an object, not " + article_type(*it);
      return std::nullopt;
    }
    chain.push_back(&*it);
    next = parent_of(*it, *next, why);
    if (!why.empty()) return std::nullopt;
  }
  return chain;
}

// _find_profile's list: the top level, then the chain from its farthest ancestor to `name`.
json file_layers(const json& rc, const std::vector<const json*>& chain) {
  json out = rc;
  auto it = out.find("profile");
  if (it == out.end() || it->is_null()) out["profile"] = json::object();  // Perl's autovivification
  for (auto layer = chain.rbegin(); layer != chain.rend(); ++layer) overlay(out, **layer);
  return out;
}

// ---- node ids ----

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (auto at = s.find(from); at != npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
  return s;
}

// Where Perl's `(?<=/)$` matches: after a final '/', or before one trailing "\n" that
// follows a '/'. npos if nowhere.
std::size_t final_slash_end(const std::string& id) {
  auto n = id.size();
  if (n >= 1 && id[n - 1] == '/') return n;
  if (n >= 2 && id[n - 1] == '\n' && id[n - 2] == '/') return n - 1;
  return npos;
}

std::optional<json> address_list(const json& config, const char* key, json fallback, std::string& why) {
  auto it = config.find(key);
  if (it == config.end() || !perl_true(*it)) return fallback;
  if (it->is_array()) return *it;
  why = std::string("\"") + key + "\" must be an array of addresses, not " + article_type(*it);
  return std::nullopt;
}

}  // namespace

std::optional<json> parse_rc(std::string_view text, std::string& why) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") {
    why = "line 1: a UTF-8 byte order mark is not allowed";
    return std::nullopt;
  }
  auto strict = to_strict_json(text, why);
  if (!strict) return std::nullopt;
  json doc;
  try {
    doc = json::parse(*strict);
  } catch (const json::parse_error& e) {
    why = parse_failure(*strict, e);
    return std::nullopt;
  }
  if (!doc.is_object()) {
    why = at_line(*strict, first_significant(*strict), "the top level must be an object, not " + article_type(doc));
    return std::nullopt;
  }
  return doc;
}

std::string rc_path() {
  if (const char* rc = std::getenv("PERL_ANYEVENT_MP_RC")) return rc;
  if (const char* home = std::getenv("HOME")) return std::string(home) + "/.perl-anyevent-mp";
  const char* appdata = std::getenv("APPDATA");
  return std::string(appdata ? appdata : "") + "/perl-anyevent-mp";
}

std::optional<json> load_rc(const std::string& path, std::string& why) {
  bool missing = false;
  std::string failure;
  auto text = read_all(path, missing, failure);
  if (!text && missing) return json{{"version", 1}};
  if (!text) {
    why = failure;
    return std::nullopt;
  }
  auto rc = parse_rc(*text, failure);
  if (!rc) why = path + ": " + failure;
  return rc;
}

json builtin_defaults() {
  return json{
      {"monitor_timeout", 30},
      {"connect_interval", 2},
      {"framing_format", {"cbor", "json", "storable"}},
      {"auth_offer", {"tls_sha3_512", "hmac_sha3_512"}},
      {"auth_accept", {"tls_sha3_512", "hmac_sha3_512", "tls_anon", "cleartext"}},
  };
}

std::optional<json> resolve_profile(const json& rc, const std::string& profile, const json& args, bool force,
                                    std::string& why) {
  if (!rc.is_object() || !(args.is_null() || args.is_object())) {
    why = !rc.is_object() ? "the configuration must be an object, not " + article_type(rc)
                          : "configure arguments must be an object, not " + article_type(args);
    return std::nullopt;
  }
  json kv = args.is_null() ? json::object() : args;
  bool forced = take_flag(kv, "force");
  bool norc = take_flag(kv, "norc");
  json out = builtin_defaults();
  overlay(out, kv);
  if (norc) return out;
  std::string failure;
  auto chain = profile_chain(rc, profile, failure);
  if (!chain) {
    why = failure;
    return std::nullopt;
  }
  json file = file_layers(rc, *chain);
  if (!force && !forced) {
    overlay(out, file);
    return out;
  }
  overlay(file, out);
  return file;
}

bool perl_true(const json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_unsigned()) return v.get<std::uint64_t>() != 0;
  if (v.is_number_integer()) return v.get<std::int64_t>() != 0;
  if (v.is_number_float()) return v.get<double>() != 0.0;
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return !s.empty() && s != "0";
  }
  return true;  // arrays and objects are references: always true
}

std::optional<std::string> nodeid_pattern(const json& config, const std::string& profile, std::string& why) {
  auto it = config.find("nodeid");
  if (it == config.end()) return profile + "/";
  if (!perl_true(*it)) {
    why = "illegal node ID " + it->dump() + " (a node ID must not be empty, 0 or null)";
    return std::nullopt;
  }
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return it->dump();
  why = "\"nodeid\" must be a string, not " + article_type(*it);
  return std::nullopt;
}

expanded_nodeid expand_nodeid(std::string pattern, const std::string& hostname,
                              const std::function<std::string()>& random10) {
  std::string id = replace_all(std::move(pattern), "%n", hostname);
  auto slash_end = final_slash_end(id);
  if (slash_end == npos && id.find("%u") == npos) return {std::move(id), false};
  // The random string is alphanumeric, so inserting it cannot create or break a "%u".
  std::string runiq = random10();
  if (slash_end != npos) id.insert(slash_end, runiq);
  return {replace_all(std::move(id), "%u", runiq), true};
}

std::string random_alnum10() {
  static constexpr std::string_view alnum = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device source;
  std::uniform_int_distribution<std::size_t> pick(0, alnum.size() - 1);
  std::string out;
  for (int i = 0; i < 10; ++i) out += alnum[pick(source)];
  out.back() = static_cast<char>(std::toupper(static_cast<unsigned char>(out.back())));
  return out;
}

std::string host_name() {
  struct utsname u {};
  if (uname(&u) != 0) return "";
  return u.nodename;
}

std::optional<json> binds_of(const json& config, std::string& why) {
  return address_list(config, "binds", json::array({"*"}), why);
}

std::optional<json> seeds_of(const json& config, std::string& why) {
  return address_list(config, "seeds", json::array(), why);
}

}  // namespace sluice::mp::aemp
