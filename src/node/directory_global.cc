// The directory's global role (see directory.hpp for the Invariants): the merged directory of
// this node's slaves, kept in step with the other global nodes, queries and family watchers.
// The protocol and the merge rule are AnyEvent::MP 2.02's (Global.pm: g_upd prefers a slave's
// value over another global node's when a key is deleted); the code is this project's.
#include "directory.hpp"

namespace sluice::mp::net {
namespace {

// The first node in `nodes` whose entries hold family/key and that is (or is not) a slave.
const std::string* holder(const std::map<std::string, message>& from, const std::map<std::string, std::set<std::string>>& slaves,
                          const std::string& family, const std::string& key, bool slave) {
  for (const auto& [n, db] : from) {
    if (db.contains(family) && db[family].contains(key) && (slaves.count(n) != 0) == slave) return &n;
  }
  return nullptr;
}

}  // namespace

// A seed address turned out to be our own, or a node asked us to serve: from now on this
// node keeps the directory (Global.pm's start-up).
void directory::become_global() {
  if (global_) return;
  global_ = true;
  set_master(self_);
  set("'g", self_, nullptr);
  for (const auto& n : host_.connected()) {
    host_.send_request(n, node_request({"g_global"}));
    if (global_nodes_.count(n)) greet_global(n);
  }
}

std::optional<std::vector<std::string>> directory::addresses(const std::string& node) const {
  if (!global_db_.contains("'l") || !global_db_["'l"].contains(node)) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& a : global_db_["'l"][node]) {
    if (a.is_string()) out.push_back(a.get<std::string>());
  }
  return out;
}

void directory::global_request(const std::string& src, const std::string& tag, const message& m) {
  auto arg = [&](std::size_t i) { return i < m.size() ? m[i] : message(); };
  auto text = [&](std::size_t i) { return arg(i).is_string() ? arg(i).get<std::string>() : std::string(); };
  auto family = [&](const std::string& f) { return global_db_.contains(f) ? global_db_[f] : message(); };
  if (tag == "g_slave") {  // g_slave [DB]: without DB only "start serving"
    if (m.size() < 3) return;
    slaves_[src];
    merge(src, arg(2));
  } else if (tag == "g_set") {  // another global node's slaves' entries
    message binds = arg(2).is_object() && arg(2).contains("'l") && arg(2)["'l"].is_object()
                        ? arg(2)["'l"].value(src, message())
                        : message();
    merge(src, arg(2));
    set("'l", src, binds);
  } else if (tag == "g_upd") {
    update(src, text(2), arg(3), arg(4));
  } else if (tag == "g_find") {
    message where = family("'l").is_object() ? family("'l").value(text(2), message()) : message();
    host_.send_request(src, node_request({"g_found", text(2), where}));
  } else if (tag == "g_db_family" || tag == "g_db_keys" || tag == "g_db_values") {
    message f = family(text(2)), out = tag == "g_db_family" ? message::object() : message::array();
    if (f.is_object()) {
      for (const auto& [k, v] : f.items()) {
        if (tag == "g_db_family") out[k] = v;
        else out.push_back(tag == "g_db_keys" ? message(k) : v);
      }
    }
    host_.send_request(src, node_request({"g_reply", arg(3), out}));
  } else if (tag == "g_mon1") {
    slaves_[src].insert(text(2));
    watched_[text(2)].insert(src);
    host_.send_request(src, node_request({"g_chg1", text(2), family(text(2))}));
  } else if (tag == "g_mon0") {
    watched_[text(2)].erase(src);
    if (watched_[text(2)].empty()) watched_.erase(text(2));
    slaves_[src].erase(text(2));
  } else if (tag == "g_global") {  // another global node: start over with it
    disconnect(src);
    global_nodes_.insert(src);
    greet_global(src);
  }
}

// One node's change to one family: `set` holds new values, `del` keys it no longer has.
void directory::update(const std::string& node, const std::string& fam, message set, const message& del) {
  if (!set.is_object()) set = message::object();
  message& mine = from_[node][fam];
  message& all = global_db_[fam];
  if (!mine.is_object()) mine = message::object();
  if (!all.is_object()) all = message::object();
  const bool from_slave = slaves_.count(node) != 0;
  message also = message::object();                      // values another global node still holds
  message del_local = message::array(), del_global = message::array();
  for (const auto& [k, v] : set.items()) mine[k] = all[k] = v;
  for (const auto& kv : del.is_array() ? del : message::array()) {
    if (!kv.is_string()) continue;
    const std::string k = kv.get<std::string>();
    mine.erase(k);
    if (const std::string* s = holder(from_, slaves_, fam, k, true)) {        // a slave still has it
      const message& v = from_[*s][fam][k];
      if (!all.contains(k) || all[k] != v) set[k] = all[k] = v;
    } else if (const std::string* g = holder(from_, slaves_, fam, k, false)) {  // only a global node
      del_global.push_back(k);
      const message& v = from_[*g][fam][k];
      if (!all.contains(k) || all[k] != v) also[k] = all[k] = v;
    } else {
      all.erase(k);
      del_local.push_back(k);
      if (from_slave) del_global.push_back(k);
    }
  }
  if (all.empty()) global_db_.erase(fam);
  if (mine.empty()) from_[node].erase(fam);
  if (from_slave && (!set.empty() || !del_global.empty())) broadcast(node_request({"g_upd", fam, set, del_global}));
  if (!set.empty() || !also.empty() || !del_local.empty()) {
    set.update(also);
    auto w = watched_.find(fam);
    if (w != watched_.end()) {
      for (const auto& n : w->second) host_.send_request(n, node_request({"g_chg2", fam, set, del_local}));
    }
  }
  if (fam == "'g") keep_globals();
}

void directory::merge(const std::string& node, const message& db) {
  if (!db.is_object()) return;
  for (const auto& [fam, entries] : db.items()) update(node, fam, entries, message());
}

void directory::clear(const std::string& node) {
  auto it = from_.find(node);
  if (it == from_.end()) return;
  message db = it->second;
  for (const auto& [fam, entries] : db.items()) {
    message keys = message::array();
    for (const auto& [k, v] : entries.items()) keys.push_back(k);
    update(node, fam, message(), keys);
  }
  from_.erase(node);
}

// A node went away (or said it is global now): everything it contributed goes.
void directory::disconnect(const std::string& node) {
  global_nodes_.erase(node);
  del("'g", {node});
  del("'l", {node});
  clear(node);
  auto s = slaves_.find(node);
  if (s == slaves_.end()) return;
  for (const auto& fam : s->second) {
    auto w = watched_.find(fam);
    if (w == watched_.end()) continue;
    w->second.erase(node);
    if (w->second.empty()) watched_.erase(w);
  }
  slaves_.erase(s);
}

// Another global node: record it, and hand it our slaves' entries.
void directory::greet_global(const std::string& node) {
  set("'g", node, nullptr);
  message db = message::object();
  for (const auto& [n, entries] : from_) {
    if (!slaves_.count(n)) continue;
    for (const auto& [fam, kv] : entries.items()) {
      for (const auto& [k, v] : kv.items()) db[fam][k] = v;
    }
  }
  host_.send_request(node, node_request({"g_set", db}));
}

void directory::broadcast(const message& req) {
  for (const auto& n : global_nodes_) host_.send_request(n, req);
}

// Global nodes stay connected to each other ("'g" lists them).
void directory::keep_globals() {
  std::vector<std::string> others;
  if (global_db_.contains("'g")) {
    for (const auto& [n, v] : global_db_["'g"].items()) {
      if (n != self_) others.push_back(n);
    }
  }
  host_.keep_connected(std::move(others));
}

}  // namespace sluice::mp::net
