// tools/aemp/config.cc - the commands that edit or show the rc file (see aemp.hpp).
//
// Commands act on the top level of the file, or on "profile" -> NAME after `profile NAME`
// (until the next `profile`). `setKEY VALUE` may be written `KEY VALUE`; `delKEY` removes the
// key. Every change is made in memory; the file is written once, after the whole chain
// succeeded, so a bad command anywhere leaves it as it was.
#include <fstream>
#include <set>
#include <sstream>

#include "aemp.hpp"
#include "sluice/internal/aemp/rcfile.hpp"
#include "sluice/internal/aemp/tls.hpp"

namespace aemp_tool {
namespace {

namespace rc = sluice::mp::aemp;

enum class kind { string, pem_file, address_list, name_list, value };

struct key_info {
  const char* name;
  kind k;
};

// The keys aemp knows (aemp-wire.md section 6). Lists take "a,b,c" or a JSON array.
constexpr key_info keys[] = {
    {"secret", kind::string},          {"cert", kind::pem_file},          {"seeds", kind::address_list},
    {"binds", kind::address_list},     {"nodeid", kind::string},          {"parent", kind::string},
    {"services", kind::name_list},     {"framing_format", kind::name_list}, {"auth_offer", kind::name_list},
    {"auth_accept", kind::name_list},  {"monitor_timeout", kind::value},  {"connect_interval", kind::value},
    {"nodelay", kind::value},          {"secure", kind::value},
};

const key_info* find_key(const std::string& name) {
  for (const auto& k : keys)
    if (name == k.name) return &k;
  return nullptr;
}

const std::set<std::string> simple = {"profile", "gensecret", "gencert", "addseed", "delseed", "addbind",
                                      "delbind", "showprofile", "showconfig", "help"};

json comma_list(const std::string& cmd, const std::string& v) {
  if (!v.empty() && v[0] == '[') {
    json j = json_or_string(v);
    for (const auto& x : j)
      if (!x.is_string()) throw failure(exit_usage, cmd + ": a list of strings expected, got " + v);
    return j;
  }
  json a = json::array();
  std::string item;
  std::istringstream in(v);
  while (std::getline(in, item, ','))
    if (!item.empty()) a.push_back(item);
  return a;
}

std::string read_pem_file(const std::string& cmd, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw failure(exit_error, cmd + ": cannot read " + file);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string pem = ss.str(), why;
  if (!rc::check_node_pem(pem, why)) throw failure(exit_usage, cmd + ": " + file + ": " + why);
  return pem;
}

struct editor {
  rc_file& f;
  const options& o;
  std::string profile;  // "" = the top level
  bool in_profile = false;

  json& target() {
    if (!in_profile) return f.data;
    json& table = f.data["profile"];
    if (table.is_null()) table = json::object();
    if (!table.is_object()) throw failure(exit_error, f.path + ": \"profile\" is not an object");
    json& p = table[profile];
    if (p.is_null()) p = json::object();
    if (!p.is_object()) throw failure(exit_error, f.path + ": profile \"" + profile + "\" is not an object");
    return p;
  }

  void set(const std::string& key, json v) {
    target()[key] = std::move(v);
    f.dirty = true;
  }

  void del(const std::string& key) {
    json& t = target();
    if (t.contains(key)) {
      t.erase(key);
      f.dirty = true;
    }
  }

  json& list(const std::string& cmd, const std::string& key) {
    json& t = target();
    if (!t.contains(key) || t[key].is_null()) t[key] = json::array();
    if (!t[key].is_array()) throw failure(exit_usage, cmd + ": \"" + key + "\" is not a list in the file");
    return t[key];
  }

  void add_to(const std::string& cmd, const std::string& key, const std::string& v) {
    json& l = list(cmd, key);
    for (const auto& x : l)
      if (x == v) return;
    l.push_back(v);
    f.dirty = true;
  }

  void remove_from(const std::string& cmd, const std::string& key, const std::string& v) {
    json& l = list(cmd, key);
    json kept = json::array();
    for (const auto& x : l)
      if (x != v) kept.push_back(x);
    if (kept.size() != l.size()) f.dirty = true;
    l = std::move(kept);
  }

  void set_key(const std::string& cmd, const key_info& k, const std::string& v) {
    switch (k.k) {
      case kind::string: return set(k.name, v);
      case kind::pem_file: return set(k.name, read_pem_file(cmd, v));
      case kind::address_list:
      case kind::name_list: return set(k.name, comma_list(cmd, v));
      case kind::value: return set(k.name, option_value(v));
    }
  }

  void show_profile(const std::string& name) {
    std::string why;
    auto conf = rc::resolve_profile(f.data, name, json::object(), false, why);
    if (!conf) throw failure(exit_error, "showprofile " + name + ": " + why);
    out(o, conf->dump(3, ' ', false, json::error_handler_t::replace), *conf);
  }

  void show_config() { out(o, f.data.dump(3, ' ', false, json::error_handler_t::replace), f.data); }

  // One command; false if `word` is not a config command.
  bool run(const std::string& word, words& w) {
    if (word == "profile") {
      profile = w.next(word, "NAME");
      in_profile = true;
    } else if (word == "gensecret") {
      set("secret", generate_secret());
    } else if (word == "gencert") {
      set("cert", generate_cert_pem());
    } else if (word == "addseed" || word == "delseed" || word == "addbind" || word == "delbind") {
      std::string key = word.substr(3) + "s", v = w.next(word, "HOST:PORT");
      for (const auto& item : comma_list(word, v)) {
        if (word[0] == 'a') add_to(word, key, item.get<std::string>());
        else remove_from(word, key, item.get<std::string>());
      }
    } else if (word == "showprofile") {
      show_profile(w.next(word, "NAME"));
    } else if (word == "showconfig") {
      show_config();
    } else if (word == "help") {
      print_help();
    } else if (word.rfind("del", 0) == 0 && find_key(word.substr(3))) {
      del(word.substr(3));
    } else if (const key_info* k = find_key(word.rfind("set", 0) == 0 ? word.substr(3) : word)) {
      set_key(word, *k, w.next(word, "VALUE"));
    } else {
      return false;
    }
    return true;
  }
};

}  // namespace

bool is_config_command(const std::string& word) {
  if (simple.count(word)) return true;
  if (find_key(word)) return true;
  if ((word.rfind("set", 0) == 0 || word.rfind("del", 0) == 0) && find_key(word.substr(3))) return true;
  return false;
}

std::string run_config_commands(words& w, const options& o, rc_file& f) {
  editor e{f, o, std::string(), false};
  while (!w.done()) {
    const std::string word = w.peek();
    if (word == "seed" || is_network_command(word)) break;
    ++w.i;
    if (!e.run(word, w)) throw failure(exit_usage, "unknown command \"" + word + "\" (aemp help lists them)");
  }
  return e.in_profile ? e.profile : std::string();
}

}  // namespace aemp_tool
